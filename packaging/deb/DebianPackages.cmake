# Debian packages from this build: `cpack -G DEB` in a build configured with
# -DCMAKE_INSTALL_PREFIX=/usr -DSHOAL_INSTALL_SERVICE=ON (scripts/test_deb.sh).
#   libshoal0     libshoal.so.0 (SONAME libshoal.so.0), shlibs + symbols, ldconfig trigger
#   libshoal-dev  shoal.h, libshoal.so, libshoal.a, shoal.pc, the CMake package
#   shoal-tools   shoald, shoal-stat, shoal-errors, shoal-loss, shoal-archive, shoal-archived, shoal-bench (when built),
#                 shoald.service (own user "shoal", RuntimeDirectory, UMask=0077),
#                 /etc/default/shoald (a conffile)
# The Lua parts (component lua) are not packaged here: the rock installs them.
option(SHOAL_INSTALL_SERVICE "Install shoald.service and /etc/default/shoald (absolute paths: packaging only)" OFF)
set(SHOAL_DEB_DIR ${CMAKE_CURRENT_LIST_DIR})
set(SHOAL_DEB_MAINTAINER "shoal maintainers <shoal-maintainers@lists.shoal.dev>")
set(SHOAL_DEB_STAGE ${CMAKE_BINARY_DIR}/deb)

foreach(component lib dev tools)
  set(pkg_lib libshoal0)
  set(pkg_dev libshoal-dev)
  set(pkg_tools shoal-tools)
  install(FILES ${SHOAL_DEB_DIR}/copyright DESTINATION ${CMAKE_INSTALL_DATAROOTDIR}/doc/${pkg_${component}}
    COMPONENT ${component} EXCLUDE_FROM_ALL)
endforeach()

# changelog.gz of a native package, compressed reproducibly (gzip -n).
find_program(SHOAL_GZIP gzip)
if(SHOAL_GZIP)
  string(TIMESTAMP SHOAL_DEB_DATE "%a, %d %b %Y %H:%M:%S +0000" UTC)
  file(WRITE ${SHOAL_DEB_STAGE}/changelog
    "shoal (${PROJECT_VERSION}) unstable; urgency=medium\n\n"
    "  * Packages built by CPack from the shoal source tree.\n\n"
    " -- ${SHOAL_DEB_MAINTAINER}  ${SHOAL_DEB_DATE}\n")
  execute_process(COMMAND ${SHOAL_GZIP} -9nf ${SHOAL_DEB_STAGE}/changelog)
  foreach(pkg libshoal0 libshoal-dev shoal-tools)
    if(pkg STREQUAL libshoal0)
      set(component lib)
    elseif(pkg STREQUAL libshoal-dev)
      set(component dev)
    else()
      set(component tools)
    endif()
    install(FILES ${SHOAL_DEB_STAGE}/changelog.gz DESTINATION ${CMAKE_INSTALL_DATAROOTDIR}/doc/${pkg}
      COMPONENT ${component} EXCLUDE_FROM_ALL)
  endforeach()
endif()

if(SHOAL_INSTALL_SERVICE)
  install(FILES ${SHOAL_DEB_DIR}/shoald.service DESTINATION /lib/systemd/system COMPONENT tools)
  install(FILES ${SHOAL_DEB_DIR}/shoald.default DESTINATION /etc/default RENAME shoald COMPONENT tools)
endif()

# Maintainer scripts and control files under the names dpkg expects.
foreach(f tools.postinst tools.postrm tools.conffiles lib.triggers)
  string(REPLACE "." ";" parts ${f})
  list(GET parts 0 component)
  list(GET parts 1 name)
  file(COPY ${SHOAL_DEB_DIR}/${f} DESTINATION ${SHOAL_DEB_STAGE}/${component})
  file(RENAME ${SHOAL_DEB_STAGE}/${component}/${f} ${SHOAL_DEB_STAGE}/${component}/${name})
endforeach()

# The symbols file of libshoal0: every exported shoal_* function at the
# version that first shipped it (all 0.1.0 so far; raise it for additions).
add_custom_command(TARGET shoal POST_BUILD
  COMMAND sh -c "{ echo 'libshoal.so.0 libshoal0 #MINVER#'; nm -D --defined-only $<TARGET_FILE:shoal> | awk '$2 ~ /[TDBRV]/ && $3 ~ /@/ {print \" \" $3 \" ${PROJECT_VERSION}\"}' | sed 's/@@/@/' | LC_ALL=C sort -u; } > ${SHOAL_DEB_STAGE}/lib/symbols"
  VERBATIM)

set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME shoal)
set(CPACK_PACKAGE_VENDOR "shoal")
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGE_CONTACT ${SHOAL_DEB_MAINTAINER})
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "low-latency messaging over shared memory and UDP")
set(CPACK_STRIP_FILES ON)
set(CPACK_DEB_COMPONENT_INSTALL ON)
set(CPACK_COMPONENTS_ALL lib dev tools)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_MAINTAINER ${SHOAL_DEB_MAINTAINER})
set(CPACK_DEBIAN_PACKAGE_HOMEPAGE "https://github.com/shoal/shoal")
set(CPACK_DEBIAN_PACKAGE_PRIORITY optional)
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
set(CPACK_DEBIAN_PACKAGE_GENERATE_SHLIBS ON)
set(CPACK_DEBIAN_PACKAGE_GENERATE_SHLIBS_POLICY ">=")
set(CPACK_DEBIAN_PACKAGE_CONTROL_STRICT_PERMISSION ON)

set(CPACK_DEBIAN_LIB_PACKAGE_NAME libshoal0)
set(CPACK_DEBIAN_LIB_PACKAGE_SECTION libs)
set(CPACK_COMPONENT_LIB_DESCRIPTION "shoal messaging library (shared library)
shoal is a C99 messaging transport in the family of Aeron: reliable, ordered
publications and subscriptions over shared memory (IPC) and UDP with Aeron's
wire protocol. This package holds libshoal.so.0; its clients need a running
media driver (package shoal-tools).")
set(CPACK_DEBIAN_LIB_PACKAGE_CONTROL_EXTRA "${SHOAL_DEB_STAGE}/lib/triggers;${SHOAL_DEB_STAGE}/lib/symbols")

set(CPACK_DEBIAN_DEV_PACKAGE_NAME libshoal-dev)
set(CPACK_DEBIAN_DEV_PACKAGE_SECTION libdevel)
set(CPACK_DEBIAN_DEV_PACKAGE_DEPENDS "libshoal0 (= ${PROJECT_VERSION})")
set(CPACK_COMPONENT_DEV_DESCRIPTION "shoal messaging library (development files)
The public header shoal/shoal.h, libshoal.so, the static library libshoal.a,
shoal.pc for pkg-config and the CMake package (find_package(shoal) gives
shoal::shoal and shoal::shoal_static).")

set(CPACK_DEBIAN_TOOLS_PACKAGE_NAME shoal-tools)
set(CPACK_DEBIAN_TOOLS_PACKAGE_SECTION net)
set(CPACK_DEBIAN_TOOLS_PACKAGE_DEPENDS "adduser")
set(CPACK_COMPONENT_TOOLS_DESCRIPTION "shoal media driver and monitoring tools
shoald (the media driver, with the systemd unit shoald.service),
shoal-stat (counters; Prometheus text format and /metrics endpoint),
shoal-errors (the driver's error log), shoal-loss (the loss report),
shoal-archive (lists, describes, verifies and migrates archives),
shoal-archived (the archive server: records streams, answers archive clients) and
shoal-bench when built.")
set(CPACK_DEBIAN_TOOLS_PACKAGE_CONTROL_EXTRA
  "${SHOAL_DEB_STAGE}/tools/postinst;${SHOAL_DEB_STAGE}/tools/postrm;${SHOAL_DEB_STAGE}/tools/conffiles")

include(CPack)
