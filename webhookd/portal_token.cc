#include "webhookd/portal_token.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <simdjson.h>

#include <utility>

#include "tools/cli/json_writer.h"

namespace webhookd {
namespace {

constexpr std::string_view kKeyLabel = "hooklog portal link v1";
constexpr char kAlphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

int Sextet(char c) {
  if (c >= 'A' && c <= 'Z') return c - 'A';
  if (c >= 'a' && c <= 'z') return c - 'a' + 26;
  if (c >= '0' && c <= '9') return c - '0' + 52;
  if (c == '-') return 62;
  if (c == '_') return 63;
  return -1;
}

PortalKey Hmac(const PortalKey& key, std::string_view data) {
  PortalKey out{};
  unsigned int len = 0;
  HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
       reinterpret_cast<const unsigned char*>(data.data()), data.size(),
       out.data(), &len);
  return out;
}

// An integer member that is a non-negative int64 (a JSON number without
// fraction or exponent that fits).
bool GetTime(simdjson::dom::element e, int64_t* out) {
  if (!e.is_int64()) return false;
  int64_t v = e.get_int64().value();
  if (v < 0) return false;
  *out = v;
  return true;
}

}  // namespace

PortalKey DerivePortalKey(std::string_view api_key) {
  PortalKey out{};
  unsigned int len = 0;
  HMAC(EVP_sha256(), api_key.data(), static_cast<int>(api_key.size()),
       reinterpret_cast<const unsigned char*>(kKeyLabel.data()),
       kKeyLabel.size(), out.data(), &len);
  return out;
}

std::string Base64UrlEncode(std::string_view bytes) {
  std::string out;
  out.reserve((bytes.size() + 2) / 3 * 4);
  size_t i = 0;
  for (; i + 3 <= bytes.size(); i += 3) {
    uint32_t n = static_cast<unsigned char>(bytes[i]) << 16 |
                 static_cast<unsigned char>(bytes[i + 1]) << 8 |
                 static_cast<unsigned char>(bytes[i + 2]);
    for (int s = 18; s >= 0; s -= 6) out += kAlphabet[(n >> s) & 63];
  }
  const size_t rest = bytes.size() - i;
  if (rest == 1) {
    uint32_t n = static_cast<unsigned char>(bytes[i]) << 16;
    out += kAlphabet[(n >> 18) & 63];
    out += kAlphabet[(n >> 12) & 63];
  } else if (rest == 2) {
    uint32_t n = static_cast<unsigned char>(bytes[i]) << 16 |
                 static_cast<unsigned char>(bytes[i + 1]) << 8;
    out += kAlphabet[(n >> 18) & 63];
    out += kAlphabet[(n >> 12) & 63];
    out += kAlphabet[(n >> 6) & 63];
  }
  return out;
}

std::optional<std::string> Base64UrlDecode(std::string_view text) {
  if (text.size() % 4 == 1) return std::nullopt;
  std::string out;
  out.reserve(text.size() / 4 * 3 + 2);
  uint32_t acc = 0;
  int bits = 0;
  for (char c : text) {
    int v = Sextet(c);
    if (v < 0) return std::nullopt;
    acc = (acc << 6) | static_cast<uint32_t>(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out += static_cast<char>((acc >> bits) & 0xFF);
    }
  }
  // Leftover bits must be zero: otherwise two spellings would decode alike.
  if ((acc & ((1u << bits) - 1)) != 0) return std::nullopt;
  return out;
}

std::string EncodePortalPayload(const PortalClaims& claims) {
  hooklog::cli::JsonWriter w;
  w.BeginObject();
  w.Key("v").Int(1);
  w.Key("m").BeginObject();
  for (const auto& [k, v] : claims.metadata) w.Key(k).String(v);
  w.EndObject();
  w.Key("exp").Int(claims.expires_at);
  w.Key("iat").Int(claims.issued_at);
  w.EndObject();
  return std::move(w).Take();
}

std::optional<PortalClaims> ParsePortalPayload(std::string_view json) {
  simdjson::dom::parser parser;
  simdjson::dom::element root;
  if (parser.parse(json.data(), json.size(), true).get(root)) {
    return std::nullopt;
  }
  simdjson::dom::object obj;
  if (root.get_object().get(obj)) return std::nullopt;
  PortalClaims c;
  bool seen_v = false, seen_m = false, seen_exp = false, seen_iat = false;
  for (auto [key, value] : obj) {
    if (key == "v" && !seen_v) {
      seen_v = true;
      if (!value.is_int64() || value.get_int64().value() != 1) {
        return std::nullopt;
      }
    } else if (key == "m" && !seen_m) {
      seen_m = true;
      simdjson::dom::object m;
      if (value.get_object().get(m)) return std::nullopt;
      for (auto [mk, mv] : m) {
        std::string_view s;
        if (mk.empty() || mv.get_string().get(s) || s.empty()) {
          return std::nullopt;
        }
        // A repeated key would make the scope depend on which one wins.
        if (!c.metadata.emplace(std::string(mk), std::string(s)).second) {
          return std::nullopt;
        }
      }
      if (c.metadata.empty()) return std::nullopt;
    } else if (key == "exp" && !seen_exp) {
      seen_exp = true;
      if (!GetTime(value, &c.expires_at)) return std::nullopt;
    } else if (key == "iat" && !seen_iat) {
      seen_iat = true;
      if (!GetTime(value, &c.issued_at)) return std::nullopt;
    } else {
      return std::nullopt;  // unknown or repeated member
    }
  }
  if (!seen_v || !seen_m || !seen_exp || !seen_iat) return std::nullopt;
  return c;
}

std::string SignPortalToken(const PortalKey& key, const PortalClaims& claims) {
  std::string token = Base64UrlEncode(EncodePortalPayload(claims));
  const PortalKey mac = Hmac(key, token);
  token += '.';
  token += Base64UrlEncode(
      std::string_view(reinterpret_cast<const char*>(mac.data()), mac.size()));
  return token;
}

TokenCheck VerifyPortalToken(std::span<const PortalKey> keys,
                             std::string_view token, int64_t now_unix_s,
                             PortalClaims* claims) {
  if (token.size() > kMaxPortalTokenBytes) return TokenCheck::kMalformed;
  const size_t dot = token.find('.');
  if (dot == std::string_view::npos || dot == 0) return TokenCheck::kMalformed;
  const std::string_view body = token.substr(0, dot);
  auto mac = Base64UrlDecode(token.substr(dot + 1));
  if (!mac || mac->size() != PortalKey().size()) return TokenCheck::kMalformed;
  // Every key is tried, so the time taken does not say which one matched.
  int match = 0;
  for (const PortalKey& key : keys) {
    const PortalKey want = Hmac(key, body);
    match |= CRYPTO_memcmp(want.data(), mac->data(), want.size()) == 0;
  }
  if (!match) return TokenCheck::kBadSignature;
  // Signed by us, so a payload that does not parse is our bug or an old
  // format: malformed either way.
  auto payload = Base64UrlDecode(body);
  if (!payload) return TokenCheck::kMalformed;
  auto parsed = ParsePortalPayload(*payload);
  if (!parsed) return TokenCheck::kMalformed;
  if (now_unix_s >= parsed->expires_at) return TokenCheck::kExpired;
  *claims = std::move(*parsed);
  return TokenCheck::kOk;
}

}  // namespace webhookd
