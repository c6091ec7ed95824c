#include "webhookd/errors.h"

#include <utility>

#include "tools/cli/json_writer.h"
#include "webhookd/log.h"

namespace webhookd {

namespace http = boost::beast::http;
using hooklog::Status;
using hooklog::StatusCode;
using hooklog::cli::JsonWriter;

HttpResponse JsonResponse(int status, std::string body) {
  HttpResponse res{static_cast<http::status>(status), 11};
  res.set(http::field::content_type, "application/json");
  // Responses can carry signing secrets; keep them out of caches.
  res.set(http::field::cache_control, "no-store");
  res.body() = std::move(body);
  res.prepare_payload();
  return res;
}

std::string_view ErrorCodeFor(int status) {
  switch (status) {
    case 400:
      return "BAD_REQUEST";
    case 401:
      return "UNAUTHORIZED";
    case 403:
      return "FORBIDDEN";
    case 404:
      return "NOT_FOUND";
    case 405:
      return "METHOD_NOT_ALLOWED";
    case 409:
      return "CONFLICT";
    case 413:
      return "PAYLOAD_TOO_LARGE";
    case 422:
      return "VALIDATION_ERROR";
    case 429:
      return "RATE_LIMITED";
    case 501:
      return "NOT_IMPLEMENTED";
    case 503:
      return "UNAVAILABLE";
    default:
      return status >= 500 ? "INTERNAL_ERROR" : "BAD_REQUEST";
  }
}

HttpResponse ErrorResponse(int status, std::string_view message,
                           const std::vector<FieldError>* details) {
  JsonWriter w;
  w.BeginObject().Key("error").BeginObject();
  w.Key("code").String(ErrorCodeFor(status));
  w.Key("message").String(message);
  w.Key("status").Int(status);
  w.Key("details");
  if (details) {
    w.BeginArray();
    for (const auto& d : *details) {
      w.BeginObject();
      w.Key("field").String(d.field);
      w.Key("message").String(d.message);
      w.EndObject();
    }
    w.EndArray();
  } else {
    w.Null();
  }
  w.EndObject().EndObject();
  return JsonResponse(status, std::move(w).Take());
}

HttpResponse ValidationResponse(std::vector<FieldError> details) {
  // One problem is the message itself; several get a summary and are
  // listed in details.
  std::string msg = details.size() == 1 ? details[0].message
                                        : "the request has invalid fields";
  return ErrorResponse(422, msg, &details);
}

HttpResponse ValidationResponse(std::string field, std::string message) {
  return ValidationResponse({FieldError{std::move(field), std::move(message)}});
}

HttpResponse StatusResponse(const Status& st, std::string_view default_field) {
  switch (st.code()) {
    case StatusCode::kInvalidArgument:
    case StatusCode::kFailedPrecondition: {
      std::string field =
          st.field().empty() ? std::string(default_field) : st.field();
      if (field.empty()) field = "body";
      return ValidationResponse(field, st.message());
    }
    case StatusCode::kNotFound:
      return ErrorResponse(404, st.message());
    case StatusCode::kAlreadyExists:
      return ErrorResponse(409, st.message());
    case StatusCode::kResourceExhausted:
      return ErrorResponse(413, st.message());
    case StatusCode::kUnavailable:
    case StatusCode::kIOError:
      return ErrorResponse(503,
                           "storage cannot accept writes right now; "
                           "nothing was changed (" +
                               st.message() + ")");
    default:
      // Anything else is a bug of ours: logged, not shown to the client.
      Log(LogLevel::kError, "internal error", {{"status", st.ToString()}});
      return ErrorResponse(500, "internal error");
  }
}

HttpResponse UnauthorizedResponse() {
  return UnauthorizedResponse("missing or invalid X-API-Key header");
}

HttpResponse UnauthorizedResponse(std::string_view message) {
  HttpResponse res = ErrorResponse(401, message);
  res.set(http::field::www_authenticate, std::string(kWwwAuthenticate));
  return res;
}

HttpResponse MethodNotAllowedResponse(std::string_view allow) {
  HttpResponse res =
      ErrorResponse(405, "method not allowed; allowed: " + std::string(allow));
  res.set(http::field::allow, std::string(allow));
  return res;
}

}  // namespace webhookd
