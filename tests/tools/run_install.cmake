# Installs the tools into a scratch prefix (cmake --install --component
# tools) and runs the installed hooklog-load in smoke mode with a PATH that
# holds no hooklog binary: it must start the installed hooklog-receiver as
# a child process and report cpu_us_per_delivery. Then, with the receiver
# removed from the prefix, it must fail with a clear message instead of
# falling back to an in-process receiver.
#   cmake -DBUILD_DIR=... -DWORK_DIR=... -P run_install.cmake
file(REMOVE_RECURSE ${WORK_DIR})
set(prefix ${WORK_DIR}/prefix)
execute_process(COMMAND ${CMAKE_COMMAND} --install ${BUILD_DIR}
                        --prefix ${prefix} --component tools
                RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "install failed")
endif()
foreach(tool hooklog-load hooklog-receiver hooklog-admin)
  if(NOT EXISTS ${prefix}/bin/${tool})
    message(FATAL_ERROR "${prefix}/bin/${tool} was not installed")
  endif()
  execute_process(COMMAND ${prefix}/bin/${tool} --help
                  RESULT_VARIABLE rc OUTPUT_VARIABLE out)
  if(NOT rc EQUAL 0 OR NOT out MATCHES "usage: ${tool}")
    message(FATAL_ERROR "${tool} --help: exit ${rc}: ${out}")
  endif()
endforeach()

set(ENV{PATH} "/usr/bin:/bin")
set(run ${prefix}/bin/hooklog-load --scenario throughput --events 500 --smoke
    --json --dir ${WORK_DIR})
execute_process(COMMAND ${run} RESULT_VARIABLE rc OUTPUT_VARIABLE out
                ERROR_VARIABLE err)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "installed hooklog-load: exit ${rc}\n${out}\n${err}")
endif()
string(REGEX MATCH "{[^\n]*}" json "${out}")
if(json STREQUAL "")
  message(FATAL_ERROR "no JSON line in:\n${out}")
endif()
string(JSON placement GET "${json}" receiver)
string(JSON binary GET "${json}" receiver_binary)
string(JSON cpu_type TYPE "${json}" cpu_us_per_delivery)
string(JSON delivered GET "${json}" delivered)
string(JSON allocator GET "${json}" allocator)
file(REAL_PATH ${prefix}/bin/hooklog-receiver expected)
if(NOT placement STREQUAL "child process" OR NOT binary STREQUAL expected)
  message(FATAL_ERROR "receiver: '${placement}' '${binary}', expected the "
                      "child process ${expected}:\n${json}")
endif()
if(NOT cpu_type STREQUAL "NUMBER" OR NOT delivered EQUAL 500)
  message(FATAL_ERROR "cpu_us_per_delivery ${cpu_type}, delivered "
                      "${delivered}:\n${json}")
endif()
# The installed tool runs with the allocator it was built with (and says
# so), like webhookd.
if(NOT allocator STREQUAL EXPECT_ALLOCATOR)
  message(FATAL_ERROR "allocator '${allocator}', expected "
                      "'${EXPECT_ALLOCATOR}':\n${json}")
endif()
message(STATUS "installed hooklog-load: ${json}")

file(REMOVE ${prefix}/bin/hooklog-receiver)
execute_process(COMMAND ${run} RESULT_VARIABLE rc OUTPUT_VARIABLE out
                ERROR_VARIABLE err)
if(rc EQUAL 0 OR NOT err MATCHES "hooklog-receiver not found")
  message(FATAL_ERROR "without hooklog-receiver: exit ${rc}\n${out}\n${err}")
endif()
