# Every third-party dependency, found once. All come from Debian 12 packages
# (scripts/setup.sh installs them).
find_package(Threads REQUIRED)
find_package(Boost 1.74 REQUIRED COMPONENTS system)
find_package(RocksDB REQUIRED CONFIG)
find_package(simdjson REQUIRED CONFIG)
find_package(CURL REQUIRED)
find_package(OpenSSL REQUIRED)
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
