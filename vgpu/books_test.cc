// The books' contract, which every allocation and release hook relies on:
// charge before the driver, refund when it fails, give back at the
// release exactly what was recorded, keep it when the release fails.
#include "vgpu/books.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>

namespace sluice::vgpu {
namespace {

class VgpuBooks : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/sluice-vgpu-books-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    VgpuConfig config;
    config.memory_limit.fill(kUnlimited);
    config.memory_limit[0] = 100;
    std::string error;
    books_ = std::make_unique<Books>(config, SharedUsage::Open(dir_ + "/usage", &error));
    ASSERT_TRUE(books_->counting()) << error;
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  CUresult Alloc(uint64_t key, uint64_t bytes, CUresult driver = CUDA_SUCCESS) {
    return Counted(
        *books_, Holding::kMemory, 0, bytes, [&] { return driver; }, [&] { return key; });
  }
  CUresult Free(uint64_t key, CUresult driver = CUDA_SUCCESS) {
    return Released(*books_, Holding::kMemory, key, [&] { return driver; });
  }

  std::string dir_;
  std::unique_ptr<Books> books_;
};

TEST_F(VgpuBooks, AChargeOverTheLimitNeverReachesTheDriver) {
  bool called = false;
  EXPECT_EQ(Counted(
                *books_, Holding::kMemory, 0, 101,
                [&] {
                  called = true;
                  return CUDA_SUCCESS;
                },
                [] { return uint64_t{1}; }),
            CUDA_ERROR_OUT_OF_MEMORY);
  EXPECT_FALSE(called);
}

TEST_F(VgpuBooks, ADriverFailureIsRefunded) {
  EXPECT_EQ(Alloc(1, 60, CUDA_ERROR_UNKNOWN), CUDA_ERROR_UNKNOWN);
  EXPECT_EQ(books_->Used(0), 0U);
}

TEST_F(VgpuBooks, AReleaseGivesBackWhatWasRecorded) {
  ASSERT_EQ(Alloc(1, 60), CUDA_SUCCESS);
  ASSERT_EQ(Alloc(2, 30), CUDA_SUCCESS);
  EXPECT_EQ(Free(1), CUDA_SUCCESS);
  EXPECT_EQ(books_->Used(0), 30U);
  EXPECT_EQ(Free(1), CUDA_SUCCESS) << "the driver's answer stands";
  EXPECT_EQ(books_->Used(0), 30U) << "nothing recorded, nothing given back";
}

TEST_F(VgpuBooks, AFailedReleaseKeepsTheCharge) {
  ASSERT_EQ(Alloc(1, 60), CUDA_SUCCESS);
  EXPECT_EQ(Free(1, CUDA_ERROR_INVALID_VALUE), CUDA_ERROR_INVALID_VALUE);
  EXPECT_EQ(books_->Used(0), 60U);
  EXPECT_EQ(Free(1), CUDA_SUCCESS);
  EXPECT_EQ(books_->Used(0), 0U);
}

TEST_F(VgpuBooks, AnEstimateIsCorrectedToWhatTheDriverTook) {
  ASSERT_TRUE(books_->Charge(0, 50));
  books_->Adjust(0, 50, 64);
  EXPECT_EQ(books_->Used(0), 64U);
  books_->Adjust(0, 64, 40);
  EXPECT_EQ(books_->Used(0), 40U);
}

TEST_F(VgpuBooks, ADeviceWithoutALimitIsCountedButNeverRefused) {
  EXPECT_EQ(books_->Limit(1), kUnlimited);
  EXPECT_TRUE(books_->Charge(1, uint64_t{1} << 50));
  EXPECT_EQ(books_->Used(1), uint64_t{1} << 50);
}

TEST(VgpuBooksSizes, ArraysAndMipmaps) {
  EXPECT_EQ(ArrayBytes(1024, 0, 0, CU_AD_FORMAT_FLOAT, 4), 16384U);  // 1D: no height
  EXPECT_EQ(ArrayBytes(64, 64, 0, CU_AD_FORMAT_UNSIGNED_INT8, 1), 4096U);
  EXPECT_EQ(ArrayBytes(16, 16, 16, CU_AD_FORMAT_HALF, 2), 16384U);
  // 8x8 floats, then 4x4, 2x2, 1x1.
  const CUDA_ARRAY3D_DESCRIPTOR d{8, 8, 0, CU_AD_FORMAT_FLOAT, 1, 0};
  EXPECT_EQ(MipmapBytes(d, 4), (64U + 16 + 4 + 1) * 4);
}

}  // namespace
}  // namespace sluice::vgpu
