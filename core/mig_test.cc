// The MIG profile tables against NVIDIA's MIG user guide: the placements
// and combinations it documents are valid, the ones it rules out are not.
#include "core/mig.h"

#include <gtest/gtest.h>

namespace sluice {
namespace {

std::vector<MigPlacement> Layout(std::initializer_list<const char*> items) {
  std::vector<MigPlacement> out;
  for (const char* i : items) out.push_back(ParseMigPlacement(i));
  return out;
}

TEST(MigTableTest, EveryModelHasTheGuidesGeometry) {
  ASSERT_GE(MigModels().size(), 4u);
  for (const MigModel& m : MigModels()) {
    SCOPED_TRACE(std::string(m.model));
    ASSERT_EQ(m.profiles.size(), 7u);
    for (const MigProfile& p : m.profiles) {
      EXPECT_EQ(MigProfileName(p.id), p.name);
      EXPECT_EQ(MigProfileCompute(p.id), p.compute);
      int32_t starts = 0;
      for (int32_t s = 0; s < kMigMemorySlots; ++s) {
        if ((p.starts & (1U << s)) == 0) continue;
        ++starts;
        EXPECT_LE(s + p.slots, kMigMemorySlots) << p.name << " at " << s;
      }
      // As many starts as instances fit, except the one-per-device +me.
      if (!std::string(p.name).ends_with("+me")) {
        EXPECT_EQ(starts, p.max_count) << p.name;
      }
    }
  }
  for (const char* model : {"A100-40GB", "A100-80GB", "H100-80GB", "H200-141GB"}) {
    EXPECT_NE(FindMigModel(model), nullptr) << model;
  }
  EXPECT_EQ(FindMigModel("A100-SXM4-80GB")->model, "A100-80GB");
  EXPECT_EQ(FindMigModel("A100-PCIE-40GB")->model, "A100-40GB");
  EXPECT_EQ(FindMigModel("H100-80GB-HBM3")->model, "H100-80GB");
  EXPECT_EQ(FindMigModel("H100-NVL")->model, "H100-94GB");
  EXPECT_EQ(FindMigModel("H200")->model, "H200-141GB");
  EXPECT_EQ(FindMigModel("T4"), nullptr);
  EXPECT_EQ(FindMigModel("L40S"), nullptr);
}

TEST(MigTableTest, DocumentedCombinationsAreValid) {
  const MigModel& h100 = *FindMigModel("H100-80GB");
  for (const auto& layout : {
           Layout({"7g.80gb@0"}),
           Layout({"4g.40gb@0", "3g.40gb@4"}),
           Layout({"3g.40gb@0", "3g.40gb@4"}),
           Layout({"4g.40gb@0", "2g.20gb@4", "1g.10gb@6"}),
           Layout({"3g.40gb@4", "2g.20gb@0", "1g.10gb@2", "1g.10gb@3"}),
           Layout({"2g.20gb@0", "2g.20gb@2", "2g.20gb@4", "1g.10gb@6"}),
           Layout({"1g.20gb@0", "1g.20gb@2", "1g.20gb@4", "1g.20gb@6"}),
           Layout({"1g.10gb@0", "1g.10gb@1", "1g.10gb@2", "1g.10gb@3", "1g.10gb@4", "1g.10gb@5",
                   "1g.10gb@6"}),
       }) {
    EXPECT_EQ(MigLayoutError(h100, layout), "") << FormatMigPlacement(layout[0]);
  }
  const MigModel& a100 = *FindMigModel("A100-40GB");
  EXPECT_EQ(MigLayoutError(a100, Layout({"3g.20gb@0", "2g.10gb@4", "1g.5gb@6"})), "");
}

TEST(MigTableTest, RulesOutWhatTheGuideRulesOut) {
  const MigModel& h100 = *FindMigModel("H100-80GB");
  // A 3g takes four memory slots and starts at 0 or 4 only.
  EXPECT_NE(MigLayoutError(h100, Layout({"3g.40gb@2"})).find("allowed: 0, 4"), std::string::npos);
  EXPECT_NE(MigLayoutError(h100, Layout({"3g.40gb@0", "1g.10gb@3"})).find("overlaps"),
            std::string::npos);
  // Slot 7 takes no 1g (its starts are 0..6): 4g + 3g leave no room for one.
  EXPECT_NE(MigLayoutError(h100, Layout({"4g.40gb@0", "3g.40gb@4", "1g.10gb@7"})), "");
  EXPECT_NE(MigLayoutError(h100, Layout({"1g.10gb+me@0", "1g.10gb+me@1"})).find("at most 1"),
            std::string::npos);
  EXPECT_NE(MigLayoutError(h100, Layout({"7g.141gb@0"})).find("has no MIG profile"),
            std::string::npos);
  // The driver's choice without a position: the lowest free start.
  const MigProfile* three = h100.Find(MigProfileId("3g.40gb"));
  EXPECT_EQ(MigLowestFreeStart(h100, Layout({"1g.10gb@0"}), *three), 4);
  EXPECT_EQ(MigLowestFreeStart(h100, Layout({"1g.10gb@0", "1g.10gb@5"}), *three), -1);
}

TEST(MigTableTest, QuotaCountsNSeventhsOfAGpu) {
  EXPECT_EQ(MigMilli(1), 142);
  EXPECT_EQ(MigMilli(2), 285);
  EXPECT_EQ(MigMilli(3), 428);
  EXPECT_EQ(MigMilli(4), 571);
  EXPECT_EQ(MigMilli(7), 1000);
  EXPECT_LE(7 * MigMilli(1), 1000);
  EXPECT_EQ(ParseMigPlacement("2g.20gb@4"), (MigPlacement{MigProfileId("2g.20gb"), 4}));
  EXPECT_EQ(ParseMigPlacement("2g.20gb@x").profile, 0);
  EXPECT_EQ(ParseMigPlacement("2g.20gb").start, -1);
  EXPECT_EQ(MigProfileId("9g.1gb"), 0);
}

}  // namespace
}  // namespace sluice
