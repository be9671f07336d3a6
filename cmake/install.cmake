# `cmake --install` puts the headers, the static libraries, the CLI and a package config under the prefix, so
# another CMake project can find_package(sageval) and link sageval::attention (tests/consumer builds one).
include(CMakePackageConfigHelpers)
get_property(sageval_libraries GLOBAL PROPERTY SAGEVAL_LIBRARIES)
set(SAGEVAL_INSTALL_KERNELS OFF)
if(TARGET sageval_kernels AND SAGEVAL_TORCH_CUDA)
  set(SAGEVAL_INSTALL_KERNELS ON)
  list(PREPEND sageval_libraries sageval_kernels)
endif()
install(TARGETS ${sageval_libraries} EXPORT sagevalTargets
        ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR}
        INCLUDES DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
install(TARGETS sageval_cli RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
install(DIRECTORY ${PROJECT_SOURCE_DIR}/include/sageval DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
install(EXPORT sagevalTargets NAMESPACE sageval:: DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/sageval)
configure_package_config_file(${PROJECT_SOURCE_DIR}/cmake/sagevalConfig.cmake.in
                              ${PROJECT_BINARY_DIR}/sagevalConfig.cmake
                              INSTALL_DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/sageval)
write_basic_package_version_file(${PROJECT_BINARY_DIR}/sagevalConfigVersion.cmake COMPATIBILITY SameMinorVersion)
install(FILES ${PROJECT_BINARY_DIR}/sagevalConfig.cmake ${PROJECT_BINARY_DIR}/sagevalConfigVersion.cmake
        DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/sageval)
