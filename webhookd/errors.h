// Errors: the error envelope of docs/api.md, the error codes, and the mapping
// from engine Status to HTTP.
//
// Every error webhookd answers, from the server's framing checks to the
// handlers' validation, is built here, so that the envelope
// {"error":{"code","message","status","details"}} has one shape.
//
// Thread-safety: pure functions (StatusResponse may log).
#ifndef HOOKLOG_WEBHOOKD_ERRORS_H_
#define HOOKLOG_WEBHOOKD_ERRORS_H_

#include <string>
#include <string_view>
#include <vector>

#include "hooklog/status.h"
#include "webhookd/http_types.h"

namespace webhookd {

// One entry of a 422's details: which request field, and what is wrong.
struct FieldError {
  std::string field;
  std::string message;
};

// A JSON response with `status` and `body`, not cacheable (responses can
// carry signing secrets).
HttpResponse JsonResponse(int status, std::string body);

// A response carrying the error envelope (docs/api.md).
HttpResponse ErrorResponse(int status, std::string_view message,
                           const std::vector<FieldError>* details = nullptr);
// The envelope's "code" for an HTTP status ("NOT_FOUND", ...).
std::string_view ErrorCodeFor(int status);
// 422 VALIDATION_ERROR naming every field in `details`.
HttpResponse ValidationResponse(std::vector<FieldError> details);
HttpResponse ValidationResponse(std::string field, std::string message);
// An engine Status as an HTTP error (422 with details for InvalidArgument).
HttpResponse StatusResponse(const hooklog::Status& st,
                            std::string_view default_field = {});

// The header the API key travels in, and the scheme 401s name in
// WWW-Authenticate (RFC 9110 §15.5.2 requires the header on every 401).
inline constexpr std::string_view kApiKeyHeader = "X-API-Key";
inline constexpr std::string_view kWwwAuthenticate =
    "ApiKey header=\"X-API-Key\"";
HttpResponse UnauthorizedResponse();
// The same with another message (portal tokens: expired, tampered, ...).
HttpResponse UnauthorizedResponse(std::string_view message);
// 405 with `allow` in the Allow header and the message.
HttpResponse MethodNotAllowedResponse(std::string_view allow);

}  // namespace webhookd

#endif  // HOOKLOG_WEBHOOKD_ERRORS_H_
