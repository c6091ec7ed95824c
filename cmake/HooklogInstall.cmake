# `cmake --install` puts the headers, the static library and a CMake package
# so that a consumer writes find_package(hooklog) and links hooklog::hooklog.
include(CMakePackageConfigHelpers)
install(DIRECTORY include/hooklog DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
install(TARGETS hooklog hooklog_warnings EXPORT hooklogTargets
        ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR}
        LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR})
install(EXPORT hooklogTargets NAMESPACE hooklog::
        DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/hooklog)
configure_package_config_file(cmake/hooklogConfig.cmake.in
  ${CMAKE_CURRENT_BINARY_DIR}/hooklogConfig.cmake
  INSTALL_DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/hooklog)
write_basic_package_version_file(
  ${CMAKE_CURRENT_BINARY_DIR}/hooklogConfigVersion.cmake
  COMPATIBILITY SameMinorVersion)
install(FILES ${CMAKE_CURRENT_BINARY_DIR}/hooklogConfig.cmake
              ${CMAKE_CURRENT_BINARY_DIR}/hooklogConfigVersion.cmake
        DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/hooklog)
