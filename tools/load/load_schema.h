// LoadSchema: a throw-away PostgreSQL schema for one load run in cluster
// mode (hooklog-load --storage postgresql://... --nodes N): a fresh name,
// one store per node on it, and the schema dropped when the run ends.
//
// Thread-safety: one thread. Ownership: the stores Open() returns are the
// caller's; they must be closed before the LoadSchema is destroyed.
#ifndef HOOKLOG_TOOLS_LOAD_LOAD_SCHEMA_H_
#define HOOKLOG_TOOLS_LOAD_LOAD_SCHEMA_H_

#include <memory>
#include <optional>
#include <string>

#include "hooklog/status.h"
#include "hooklog/storage.h"

namespace hooklog::load {

class LoadSchema {
 public:
  // FailedPrecondition when this build has no PostgreSQL adapter.
  static Result<std::unique_ptr<LoadSchema>> Create(std::string url);
  ~LoadSchema();  // drops the schema (best effort)

  // A new store on the schema (the first creates it); cluster nodes share
  // it, so it is opened without the exclusive lock.
  Result<std::unique_ptr<Storage>> Open();
  const std::string& name() const { return name_; }

 private:
  LoadSchema(std::string url, std::string name)
      : url_(std::move(url)), name_(std::move(name)) {}
  std::string url_;
  std::string name_;
};

}  // namespace hooklog::load

#endif  // HOOKLOG_TOOLS_LOAD_LOAD_SCHEMA_H_
