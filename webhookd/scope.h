// Scope: who is calling (an operator with an API key, or a tenant with a
// portal token) and what a tenant may see (docs/portal.md, "Tenant scope").
//
// A tenant's endpoints are the non-deleted endpoints whose metadata contain
// every key=value of its token's metadata. Every route asks here: whether
// an endpoint (or a delivery's endpoint) is in scope, which endpoints the
// scope holds (to pass as DeliveryQuery::endpoint_ids and the like), and
// how a tenant's create and patch metadata must look.
//
// Thread-safety: a Principal is immutable once built and shared between the
// handlers of one request; the functions are pure or call the engine, whose
// callbacks may run on any thread.
#ifndef HOOKLOG_WEBHOOKD_SCOPE_H_
#define HOOKLOG_WEBHOOKD_SCOPE_H_

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "hooklog/engine.h"
#include "webhookd/errors.h"

namespace webhookd {

struct Principal {
  bool tenant = false;         // false: an operator (every endpoint)
  hooklog::Metadata metadata;  // the tenant's scope
  int64_t expires_at = 0;      // unix seconds; tenants only
};
using PrincipalPtr = std::shared_ptr<const Principal>;

// True when `ep` is one the principal may see: any endpoint for an
// operator; for a tenant, a non-deleted one matching every scope key.
bool InScope(const Principal& p, const hooklog::Endpoint& ep);

// The most endpoints one scope may hold; beyond, its routes answer 422.
inline constexpr size_t kMaxScopeEndpoints = hooklog::kMaxQueryEndpoints;

// Every non-deleted endpoint whose metadata contain `metadata` (all of them
// when empty), newest first, read page by page. More than
// kMaxScopeEndpoints → InvalidArgument (field "scope").
void ListScopeEndpoints(
    hooklog::Engine* engine, const hooklog::Metadata& metadata,
    std::function<void(hooklog::Result<std::vector<hooklog::Endpoint>>)> done);

// The ids of `endpoints`.
std::vector<hooklog::EndpointId> IdsOf(
    const std::vector<hooklog::Endpoint>& endpoints);

// A tenant's new endpoint carries its scope: a body key of the scope with
// another value is a 422 on "metadata"; missing scope keys are added.
void ApplyScopeToCreate(const Principal& p, hooklog::Metadata* metadata,
                        std::vector<FieldError>* errors);
// A tenant's patch may not change or remove a scope key (422 on
// "metadata"); clearing the metadata keeps the scope's keys.
void ApplyScopeToUpdate(const Principal& p, hooklog::EndpointUpdate* update,
                        std::vector<FieldError>* errors);

// The 404 a tenant gets for anything outside its scope: the same answer as
// for an id that does not exist, so ids of other tenants cannot be probed.
HttpResponse OutOfScopeResponse(std::string_view what);

// 403 for operator-only routes.
HttpResponse OperatorOnlyResponse(std::string_view what);

}  // namespace webhookd

#endif  // HOOKLOG_WEBHOOKD_SCOPE_H_
