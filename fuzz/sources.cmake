# Shared by fuzz/CMakeLists.txt (clang, libFuzzer) and
# tests/regress/CMakeLists.txt (the normal build): the check functions, and
# the targets as "<corpus folder>:<check function>".
set(HOOKLOG_FUZZ_CHECK_SOURCES
  ${CMAKE_CURRENT_LIST_DIR}/targets.cc
  ${CMAKE_CURRENT_LIST_DIR}/check_codec.cc
  ${CMAKE_CURRENT_LIST_DIR}/check_text.cc
  ${CMAKE_CURRENT_LIST_DIR}/check_signing.cc
  ${CMAKE_CURRENT_LIST_DIR}/check_portal_token.cc
  ${CMAKE_CURRENT_LIST_DIR}/check_webhookd.cc
  ${CMAKE_CURRENT_LIST_DIR}/json_check.cc)
set(HOOKLOG_FUZZ_TARGETS
  event_codec:CheckEventCodec
  row_codec:CheckRowCodec
  shortuuid:CheckShortUuid
  url:CheckUrl
  headers:CheckHeaders
  retry_after:CheckRetryAfter
  signature:CheckSignature
  webhookd_api:CheckWebhookdApi
  portal_token:CheckPortalToken)
