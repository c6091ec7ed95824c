// Status and Result<T>: how every fallible hooklog call reports failure.
//
// Modelled on leveldb::Status: a cheap value type carrying a code and a
// human-readable message. No exception ever crosses the public API; a failed
// *delivery* is not an error (it is an event in the log), only a failed *call*
// is.
//
// Thread-safety: values; safe to copy between threads.
#ifndef HOOKLOG_STATUS_H_
#define HOOKLOG_STATUS_H_

#include <cassert>
#include <string>
#include <string_view>
#include <utility>
#include <variant>

namespace hooklog {

enum class StatusCode {
  kOk = 0,
  kInvalidArgument,     // bad input; nothing was changed
  kNotFound,            // a well-formed id that does not exist
  kFailedPrecondition,  // valid request in the wrong state (e.g. replay of a
                        // delivery that is not dead_letter)
  kAlreadyExists,
  kUnavailable,  // storage cannot accept writes right now; retry later
  kCorruption,   // stored data failed a checksum or cannot be decoded
  kIOError,
  kResourceExhausted,  // a configured limit was hit (size, queue, in-flight)
};

// Returns "OK", "InvalidArgument", ... (stable strings, used in logs).
std::string_view StatusCodeName(StatusCode code);

class [[nodiscard]] Status {
 public:
  Status() = default;  // OK

  static Status Ok() { return Status(); }
  // `field` names the offending input (e.g. "url", "headers.X-Foo") so that
  // a REST layer can report it; empty when not about one field.
  static Status InvalidArgument(std::string msg, std::string field = {}) {
    return Status(StatusCode::kInvalidArgument, std::move(msg),
                  std::move(field));
  }
  static Status NotFound(std::string msg) {
    return Status(StatusCode::kNotFound, std::move(msg));
  }
  static Status FailedPrecondition(std::string msg) {
    return Status(StatusCode::kFailedPrecondition, std::move(msg));
  }
  static Status AlreadyExists(std::string msg) {
    return Status(StatusCode::kAlreadyExists, std::move(msg));
  }
  static Status Unavailable(std::string msg) {
    return Status(StatusCode::kUnavailable, std::move(msg));
  }
  static Status Corruption(std::string msg) {
    return Status(StatusCode::kCorruption, std::move(msg));
  }
  static Status IOError(std::string msg) {
    return Status(StatusCode::kIOError, std::move(msg));
  }
  static Status ResourceExhausted(std::string msg) {
    return Status(StatusCode::kResourceExhausted, std::move(msg));
  }

  bool ok() const { return code_ == StatusCode::kOk; }
  StatusCode code() const { return code_; }
  const std::string& message() const { return message_; }
  const std::string& field() const { return field_; }
  bool IsInvalidArgument() const {
    return code_ == StatusCode::kInvalidArgument;
  }
  bool IsNotFound() const { return code_ == StatusCode::kNotFound; }
  bool IsUnavailable() const { return code_ == StatusCode::kUnavailable; }

  // "OK" or "<Code>: <message>" (+ " [field]").
  std::string ToString() const;

  friend bool operator==(const Status& a, const Status& b) {
    return a.code_ == b.code_ && a.message_ == b.message_;
  }

 private:
  Status(StatusCode code, std::string msg, std::string field = {})
      : code_(code), message_(std::move(msg)), field_(std::move(field)) {}

  StatusCode code_ = StatusCode::kOk;
  std::string message_;
  std::string field_;
};

// Either a value or a non-OK Status.
template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::move(value)) {}        // NOLINT: implicit by design
  Result(Status status) : v_(std::move(status)) {  // NOLINT
    assert(!std::get<Status>(v_).ok() && "Result needs a value or an error");
  }

  bool ok() const { return std::holds_alternative<T>(v_); }
  // OK when holding a value.
  Status status() const { return ok() ? Status() : std::get<Status>(v_); }

  // REQUIRES: ok().
  T& value() & { return std::get<T>(v_); }
  const T& value() const& { return std::get<T>(v_); }
  T&& value() && { return std::get<T>(std::move(v_)); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }

 private:
  std::variant<T, Status> v_;
};

}  // namespace hooklog

// Propagates a non-OK Status from an expression returning Status.
#define HOOKLOG_RETURN_IF_ERROR(expr)  \
  do {                                 \
    ::hooklog::Status _hl_st = (expr); \
    if (!_hl_st.ok()) return _hl_st;   \
  } while (0)

#endif  // HOOKLOG_STATUS_H_
