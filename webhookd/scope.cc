#include "webhookd/scope.h"

#include <utility>

namespace webhookd {
namespace {

// Accumulates the pages of one ListScopeEndpoints call.
struct ScopeWalk {
  hooklog::Engine* engine;
  hooklog::EndpointQuery query;
  std::vector<hooklog::Endpoint> found;
  std::function<void(hooklog::Result<std::vector<hooklog::Endpoint>>)> done;
};

void NextPage(std::shared_ptr<ScopeWalk> walk) {
  hooklog::EndpointQuery q = walk->query;
  walk->engine->ListEndpoints(
      std::move(q),
      [walk](hooklog::Result<hooklog::Page<hooklog::Endpoint>> r) {
        if (!r.ok()) return walk->done(r.status());
        for (auto& ep : r->items) {
          if (!ep.deleted) walk->found.push_back(std::move(ep));
        }
        if (walk->found.size() > kMaxScopeEndpoints) {
          return walk->done(hooklog::Status::InvalidArgument(
              "the scope holds more than " +
                  std::to_string(kMaxScopeEndpoints) +
                  " endpoints; narrow it (more metadata keys in the portal "
                  "link, or endpoint_id)",
              "scope"));
        }
        if (r->next_cursor.empty()) return walk->done(std::move(walk->found));
        walk->query.cursor = std::move(r->next_cursor);
        NextPage(std::move(walk));
      });
}

}  // namespace

bool InScope(const Principal& p, const hooklog::Endpoint& ep) {
  if (!p.tenant) return true;
  if (ep.deleted) return false;
  for (const auto& [k, v] : p.metadata) {
    auto it = ep.metadata.find(k);
    if (it == ep.metadata.end() || it->second != v) return false;
  }
  return true;
}

void ListScopeEndpoints(
    hooklog::Engine* engine, const hooklog::Metadata& metadata,
    std::function<void(hooklog::Result<std::vector<hooklog::Endpoint>>)> done) {
  auto walk = std::make_shared<ScopeWalk>();
  walk->engine = engine;
  walk->query.metadata = metadata;
  walk->query.page_size = hooklog::kMaxPageSize;
  walk->done = std::move(done);
  NextPage(std::move(walk));
}

std::vector<hooklog::EndpointId> IdsOf(
    const std::vector<hooklog::Endpoint>& endpoints) {
  std::vector<hooklog::EndpointId> ids;
  ids.reserve(endpoints.size());
  for (const auto& ep : endpoints) ids.push_back(ep.id);
  return ids;
}

void ApplyScopeToCreate(const Principal& p, hooklog::Metadata* metadata,
                        std::vector<FieldError>* errors) {
  if (!p.tenant) return;
  for (const auto& [k, v] : p.metadata) {
    auto it = metadata->find(k);
    if (it != metadata->end() && it->second != v) {
      errors->push_back(
          {"metadata",
           "metadata." + k + " is fixed by your portal link to \"" + v + "\""});
      continue;
    }
    (*metadata)[k] = v;
  }
}

void ApplyScopeToUpdate(const Principal& p, hooklog::EndpointUpdate* update,
                        std::vector<FieldError>* errors) {
  if (!p.tenant) return;
  for (const auto& [k, v] : p.metadata) {
    auto it = update->metadata_patch.find(k);
    if (it != update->metadata_patch.end() && it->second != v) {
      errors->push_back({"metadata", "metadata." + k +
                                         " is fixed by your portal link to \"" +
                                         v + "\" and cannot be changed"});
      continue;
    }
    // Clearing empties the metadata first; the scope's keys come back.
    if (update->clear_metadata) update->metadata_patch[k] = v;
  }
}

HttpResponse OutOfScopeResponse(std::string_view message) {
  return ErrorResponse(404, message);
}

HttpResponse OperatorOnlyResponse(std::string_view what) {
  return ErrorResponse(403, std::string(what) +
                                " needs an operator's API key; a portal link "
                                "cannot do this");
}

}  // namespace webhookd
