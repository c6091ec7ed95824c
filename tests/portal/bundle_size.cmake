# cmake -DDIST=<dir> -DFILES=<a;b> -DLIMIT=<bytes> -P bundle_size.cmake
# Fails when the portal's gzip-compressed files add up to more than LIMIT
# (the issue's budget: 300 KiB for every asset the browser loads).
set(total 0)
foreach(f IN LISTS FILES)
  if(NOT EXISTS ${DIST}/${f}.gz)
    message(FATAL_ERROR "missing ${DIST}/${f}.gz: build hooklog_portal_assets first")
  endif()
  file(SIZE ${DIST}/${f}.gz size)
  message(STATUS "${f}.gz: ${size} bytes")
  math(EXPR total "${total} + ${size}")
endforeach()
message(STATUS "portal assets, gzip total: ${total} bytes (limit ${LIMIT})")
if(total GREATER LIMIT)
  message(FATAL_ERROR "the portal's assets are ${total} bytes gzip-compressed, over the ${LIMIT}-byte budget")
endif()
