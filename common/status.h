// Status and Result<T>: how sluice reports errors that can happen at run time.
//
// A Status is either OK or carries a code and a message a person can act on.
// Result<T> holds a value or a non-OK Status. Both are cheap on success and are
// plain values: copy them, return them, never throw them across components.
// Broken invariants are not Statuses; they are SLUICE_CHECK failures (check.h).
#ifndef SLUICE_COMMON_STATUS_H_
#define SLUICE_COMMON_STATUS_H_

#include <optional>
#include <string>
#include <utility>

#include "common/check.h"

namespace sluice {

class Status {
 public:
  enum class Code { kOk, kInvalidArgument, kNotFound, kFailedPrecondition, kInternal };

  Status() = default;
  static Status OK() { return Status(); }
  static Status InvalidArgument(std::string msg) {
    return Status(Code::kInvalidArgument, std::move(msg));
  }
  static Status NotFound(std::string msg) { return Status(Code::kNotFound, std::move(msg)); }
  static Status FailedPrecondition(std::string msg) {
    return Status(Code::kFailedPrecondition, std::move(msg));
  }
  static Status Internal(std::string msg) { return Status(Code::kInternal, std::move(msg)); }

  bool ok() const { return code_ == Code::kOk; }
  Code code() const { return code_; }
  const std::string& message() const { return message_; }
  std::string ToString() const;

 private:
  Status(Code code, std::string msg) : code_(code), message_(std::move(msg)) {}
  Code code_ = Code::kOk;
  std::string message_;
};

template <typename T>
class Result {
 public:
  Result(T value) : value_(std::move(value)) {}         // NOLINT(google-explicit-constructor)
  Result(Status status) : status_(std::move(status)) {  // NOLINT(google-explicit-constructor)
    SLUICE_CHECK(!status_.ok());
  }

  bool ok() const { return status_.ok(); }
  const Status& status() const { return status_; }
  const T& value() const& {
    SLUICE_CHECK(ok());
    return *value_;
  }
  T& value() & {
    SLUICE_CHECK(ok());
    return *value_;
  }
  T&& value() && {
    SLUICE_CHECK(ok());
    return std::move(*value_);
  }
  const T& operator*() const& { return value(); }
  const T* operator->() const { return &value(); }

 private:
  Status status_;
  std::optional<T> value_;
};

}  // namespace sluice

#endif  // SLUICE_COMMON_STATUS_H_
