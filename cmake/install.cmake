# Installs libmha, its headers, the oneDNN module, a CMake package (find_package(mha) ->
# mha::mha) and a pkg-config file.
include(CMakePackageConfigHelpers)

install(TARGETS mha EXPORT mhaTargets
  LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR}
  ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR}
  RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
install(DIRECTORY ${PROJECT_SOURCE_DIR}/include/mha
  DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
install(EXPORT mhaTargets NAMESPACE mha::
  DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/mha)

configure_package_config_file(${PROJECT_SOURCE_DIR}/cmake/mhaConfig.cmake.in
  ${PROJECT_BINARY_DIR}/mhaConfig.cmake
  INSTALL_DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/mha)
write_basic_package_version_file(${PROJECT_BINARY_DIR}/mhaConfigVersion.cmake
  COMPATIBILITY SameMajorVersion)
install(FILES ${PROJECT_BINARY_DIR}/mhaConfig.cmake ${PROJECT_BINARY_DIR}/mhaConfigVersion.cmake
  DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/mha)

# A static libmha needs its dependencies on the link line; a shared one does not.
if(BUILD_SHARED_LIBS)
  set(MHA_PC_LIBS_PRIVATE "")
else()
  set(MHA_PC_LIBS_PRIVATE "-lhwy -fopenmp -ldl -lstdc++ -lm")
  if(MHA_ONEDNN_BUILTIN)
    string(PREPEND MHA_PC_LIBS_PRIVATE "-ldnnl ")
  endif()
endif()
# Relocatable: the prefix is found from where the .pc file lies.
file(RELATIVE_PATH MHA_PC_PREFIX_FROM_PCFILEDIR
  "/prefix/${CMAKE_INSTALL_LIBDIR}/pkgconfig" "/prefix")
configure_file(${PROJECT_SOURCE_DIR}/cmake/mha.pc.in ${PROJECT_BINARY_DIR}/mha.pc @ONLY)
install(FILES ${PROJECT_BINARY_DIR}/mha.pc DESTINATION ${CMAKE_INSTALL_LIBDIR}/pkgconfig)

# The oneDNN module and the backend kit's headers (under include/mha/kit, installed with
# the rest): the module goes beside libmha, where the loader looks first.
if(TARGET mha_backend_onednn AND NOT MHA_ONEDNN_BUILTIN)
  install(TARGETS mha_backend_onednn LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR})
endif()
