# Every third-party dependency, found once. All come from Debian 12 packages
# (scripts/setup.sh installs them).
find_package(Threads REQUIRED)
find_package(Boost 1.74 REQUIRED COMPONENTS system)
find_package(RocksDB REQUIRED CONFIG)
find_package(simdjson REQUIRED CONFIG)
find_package(CURL REQUIRED)
find_package(OpenSSL REQUIRED)
# libpq (libpq-dev) for the optional PostgreSQL adapter (storage/postgres);
# HOOKLOG_WITH_POSTGRES defaults to whether it is found.
find_package(PostgreSQL)
if(HOOKLOG_BUILD_EXAMPLES)
  find_package(SQLite3 REQUIRED)  # examples/sqlite_storage
endif()
if(HOOKLOG_BUILD_TESTS)
  find_package(GTest REQUIRED)
  include(GoogleTest)
endif()
if(HOOKLOG_BUILD_BENCH)
  find_package(benchmark REQUIRED)
endif()

# The allocator of the programs hooklog ships (webhookd, hooklog-load):
# jemalloc (libjemalloc-dev) when found, the system's malloc otherwise. The
# library itself never chooses one: an embedding program links what it
# wants (docs/architecture.md, "Memory allocator"). Never under a
# sanitizer, which brings its own.
option(HOOKLOG_WITH_JEMALLOC "Link webhookd and hooklog-load with jemalloc" ON)
add_library(hooklog_allocator INTERFACE)
if(HOOKLOG_WITH_JEMALLOC AND NOT HOOKLOG_SANITIZE)
  find_library(JEMALLOC_LIBRARY jemalloc)
  if(JEMALLOC_LIBRARY)
    target_link_libraries(hooklog_allocator INTERFACE ${JEMALLOC_LIBRARY})
    message(STATUS "hooklog: webhookd and hooklog-load use jemalloc (${JEMALLOC_LIBRARY})")
  else()
    message(STATUS "hooklog: jemalloc not found (libjemalloc-dev): the system malloc")
  endif()
endif()
