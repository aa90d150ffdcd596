// The fragmentation measure on nodes small enough to work out by hand.
#include "sched/fragmentation.h"

#include <gtest/gtest.h>

namespace sluice {
namespace {

MixShape Shape(int32_t devices, int64_t milli, int64_t cpu = 0, int64_t weight = 1) {
  MixShape s;
  s.request.gpu_devices = devices;
  s.request.gpu_milli = milli;
  s.request.cpu_milli = cpu;
  s.weight = weight;
  return s;
}

TEST(FragmentationTest, ShapeFragmentFollowsTheFourCases) {
  Node n;
  n.gpus = 3;
  n.gpu_model = "T4";
  const std::vector<int64_t> free = {1000, 300, 700};
  const NodeFreeView v{&n, 4000, 8192, free};
  // A half GPU fits devices 0 and 2; device 1's 300 is a fragment.
  EXPECT_EQ(ShapeFragment(v, Shape(1, 500)), 300);
  // A whole GPU fits device 0; 300 + 700 are fragments.
  EXPECT_EQ(ShapeFragment(v, Shape(1, 1000)), 1000);
  // Two whole GPUs do not fit at all: every free milli is a fragment.
  EXPECT_EQ(ShapeFragment(v, Shape(2, 1000)), 2000);
  // Not enough CPU: all of it.
  EXPECT_EQ(ShapeFragment(v, Shape(1, 100, 5000)), 2000);
  // A CPU-only pod uses no GPU.
  EXPECT_EQ(ShapeFragment(v, Shape(0, 0)), 2000);
  // Another model: all of it.
  MixShape other = Shape(1, 100);
  other.gpu_models = {"A100"};
  EXPECT_EQ(ShapeFragment(v, other), 2000);
  // Memory counts unless told otherwise.
  MixShape heavy = Shape(1, 100);
  heavy.request.memory_mib = 10000;
  EXPECT_EQ(ShapeFragment(v, heavy), 2000);
  EXPECT_EQ(ShapeFragment(v, heavy, {.count_memory = false}), 0);
  // Weighted sum: 3 x 300 + 1 x 1000.
  const RequestMix mix = RequestMix::FromShapes({Shape(1, 500, 0, 3), Shape(1, 1000, 0, 1)});
  EXPECT_EQ(NodeFragmentation(v, mix), 1900);
}

TEST(FragmentationTest, MixMergesShapesAndKeepsTheMostFrequent) {
  std::vector<MixShape> shapes;
  for (int i = 0; i < 90; ++i) shapes.push_back(Shape(1, 1000));
  for (int i = 0; i < 8; ++i) shapes.push_back(Shape(1, 500));
  shapes.push_back(Shape(1, 250));
  shapes.push_back(Shape(1, 125));
  const RequestMix mix = RequestMix::FromShapes(shapes, 95);
  // 90 + 8 covers 98 of 100 pods: the two rare shapes are left out.
  ASSERT_EQ(mix.shapes().size(), 2U);
  EXPECT_EQ(mix.shapes()[0].weight, 90);
  EXPECT_EQ(mix.shapes()[1].request.gpu_milli, 500);
  EXPECT_EQ(mix.total_weight(), 98);
  EXPECT_EQ(RequestMix::FromShapes(shapes, 100, 3).shapes().size(), 3U);
}

TEST(FragmentationTest, ResolutionRoundsExpectedGrowthDown) {
  const RequestMix mix = RequestMix::FromShapes({Shape(1, 1000, 0, 2)});
  // Growth is weight x milli; per pod of the mix that is growth / 2, in
  // steps of 40 milli.
  EXPECT_EQ(mix.Resolution(0), 0);
  EXPECT_EQ(mix.Resolution(79), 0);
  EXPECT_EQ(mix.Resolution(80), 1);
  EXPECT_EQ(mix.Resolution(-1), -1);
  EXPECT_EQ(mix.Resolution(-80), -1);
  EXPECT_EQ(mix.Resolution(-81), -2);
  EXPECT_EQ(RequestMix().Resolution(500), 0);
}

}  // namespace
}  // namespace sluice
