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
