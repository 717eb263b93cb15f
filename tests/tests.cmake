# One runner for everything: CTest. Each test is selectable by name
# (`ctest -R unit.codec`, `ctest -R compat.ali-oss`).

# Unit tests: tests/unit/test_<module>.c, cmocka, one executable each.
file(GLOB VODUP_UNIT_TESTS CONFIGURE_DEPENDS ${CMAKE_SOURCE_DIR}/tests/unit/test_*.c)
foreach(src ${VODUP_UNIT_TESTS})
  get_filename_component(name ${src} NAME_WE)
  string(REGEX REPLACE "^test_" "" mod ${name})
  add_executable(${name} ${src})
  target_include_directories(${name} PRIVATE ${CMAKE_SOURCE_DIR}/tests/unit)
  target_link_libraries(${name} PRIVATE vodup_common PkgConfig::CMOCKA)
  if(TARGET vodupd_core)
    target_link_libraries(${name} PRIVATE vodupd_core)
  endif()
  if(TARGET vodup_static)
    target_link_libraries(${name} PRIVATE vodup_static)
  endif()
  set_target_properties(${name} PROPERTIES RUNTIME_OUTPUT_DIRECTORY ${CMAKE_BINARY_DIR}/tests)
  add_test(NAME unit.${mod} COMMAND ${name})
  set_tests_properties(unit.${mod} PROPERTIES
    ENVIRONMENT "VODUP_VECTORS=${CMAKE_SOURCE_DIR}/tests/vectors;VODUP_TEST_TMP=${CMAKE_BINARY_DIR}/tests/tmp;VODUPD=$<TARGET_FILE:vodupd>;VODUP_BUILD_DIR=${CMAKE_BINARY_DIR};VODUPD_PROBE_WORKERS=0"
    TIMEOUT 300)
endforeach()

# The threaded client tests, alone: `make test-tsan` builds and runs just these under
# ThreadSanitizer (with the vodupd they talk to). Not test_client_load: 200 transfers at
# once through a TSan-built client and vodupd on a small machine take minutes a batch and
# turn its timed faults into noise; its races are test_client_threads' (the Makefile's
# test-tsan leaves it out by name too).
add_custom_target(vodup_client_tests)
foreach(src ${VODUP_UNIT_TESTS})
  get_filename_component(name ${src} NAME_WE)
  if(name MATCHES "^test_client" AND NOT name STREQUAL "test_client_load")
    add_dependencies(vodup_client_tests ${name})
  endif()
endforeach()
if(TARGET vodupd)
  add_dependencies(vodup_client_tests vodupd)
endif()
# unit.client_example runs the example app server and examples/upload-auth.c.
foreach(t vodup-app-server example-upload-auth)
  if(TARGET ${t})
    add_dependencies(vodup_client_tests ${t})
  endif()
endforeach()

# End-to-end tests against the real vodupd binary, with the official SDKs as peers
# (node's built-in test runner). tests/compat/*.test.mjs and tests/integration/*.test.mjs.
find_program(NODE node)
if(NODE AND TARGET vodupd)
  foreach(dir compat integration)
    file(GLOB VODUP_NODE_TESTS CONFIGURE_DEPENDS ${CMAKE_SOURCE_DIR}/tests/${dir}/*.test.mjs)
    foreach(src ${VODUP_NODE_TESTS})
      get_filename_component(fname ${src} NAME)
      string(REGEX REPLACE "\\.test\\.mjs$" "" name ${fname})
      add_test(NAME ${dir}.${name} COMMAND ${NODE} --test --test-reporter=spec ${src})
      set_tests_properties(${dir}.${name} PROPERTIES
        ENVIRONMENT "VODUPD=$<TARGET_FILE:vodupd>;VODUP_BUILD_DIR=${CMAKE_BINARY_DIR};VODUP_TEST_TMP=${CMAKE_BINARY_DIR}/tests/tmp;VODUP_SANITIZE=$<BOOL:${VODUP_SANITIZE}>;VODUPD_PROBE_WORKERS=0"
        WORKING_DIRECTORY ${CMAKE_SOURCE_DIR}
        TIMEOUT 600)
    endforeach()
  endforeach()
endif()

# Fuzz targets: tests/fuzz/fuzz_<parser>.c define LLVMFuzzerTestOneInput. Every build
# replays the committed corpus through them; VODUP_FUZZ=ON also builds libFuzzer binaries.
file(GLOB VODUP_FUZZERS CONFIGURE_DEPENDS ${CMAKE_SOURCE_DIR}/tests/fuzz/fuzz_*.c)
foreach(src ${VODUP_FUZZERS})
  get_filename_component(name ${src} NAME_WE)
  string(REGEX REPLACE "^fuzz_" "" mod ${name})
  add_executable(replay_${mod} ${src} ${CMAKE_SOURCE_DIR}/tests/fuzz/replay.c)
  target_link_libraries(replay_${mod} PRIVATE vodup_common)
  if(TARGET vodupd_core)
    target_link_libraries(replay_${mod} PRIVATE vodupd_core)
  endif()
  if(mod MATCHES "^client_" AND TARGET vodup_static)   # libvodup's parsers
    target_link_libraries(replay_${mod} PRIVATE vodup_static)
  endif()
  if(mod STREQUAL "probe" AND TARGET vodupd_media)   # the media probe: libav* lives only there
    target_link_libraries(replay_${mod} PRIVATE vodupd_media)
  endif()
  set_target_properties(replay_${mod} PROPERTIES RUNTIME_OUTPUT_DIRECTORY ${CMAKE_BINARY_DIR}/tests)
  add_test(NAME fuzz-replay.${mod} COMMAND replay_${mod} ${CMAKE_SOURCE_DIR}/tests/fuzz/corpus/${mod})
  if(VODUP_FUZZ)
    add_executable(${name} ${src})
    target_compile_options(${name} PRIVATE -fsanitize=fuzzer)
    target_link_options(${name} PRIVATE -fsanitize=fuzzer)
    target_link_libraries(${name} PRIVATE vodup_common)
    if(TARGET vodupd_core)
      target_link_libraries(${name} PRIVATE vodupd_core)
    endif()
    if(mod MATCHES "^client_" AND TARGET vodup_static)
      target_link_libraries(${name} PRIVATE vodup_static)
    endif()
    if(mod STREQUAL "probe" AND TARGET vodupd_media)   # the media probe: libav* lives only there
      target_link_libraries(${name} PRIVATE vodupd_media)
    endif()
  endif()
endforeach()

# The public header compiles alone under -std=c11 -pedantic -Werror (no extensions leak).
add_test(NAME header.pedantic
         COMMAND ${CMAKE_C_COMPILER} -std=c11 -pedantic -Wall -Wextra -Werror -fsyntax-only
                 -I${CMAKE_SOURCE_DIR}/include ${CMAKE_SOURCE_DIR}/tests/header/pedantic.c)

# The web upload SDK (web/vodup-upload.js): its signing code in node, and pages driven in
# headless Chromium (Debian's chromium through npm's playwright-core; a test that finds no
# /usr/bin/chromium says so and skips). tests/browser/*.test.mjs, `ctest -R browser.`.
# A sanitized vodupd is several times slower, and the pages wait for it (their own waits
# scale with SLOW); ctest must not cut them first.
if(VODUP_SANITIZE OR VODUP_TSAN)
  set(VODUP_BROWSER_TIMEOUT 1800)
else()
  set(VODUP_BROWSER_TIMEOUT 600)
endif()
if(NODE AND TARGET vodupd)
  file(GLOB VODUP_BROWSER_TESTS CONFIGURE_DEPENDS ${CMAKE_SOURCE_DIR}/tests/browser/*.test.mjs)
  foreach(src ${VODUP_BROWSER_TESTS})
    get_filename_component(fname ${src} NAME)
    string(REGEX REPLACE "\\.test\\.mjs$" "" name ${fname})
    add_test(NAME browser.${name} COMMAND ${NODE} --test --test-reporter=spec ${src})
    set_tests_properties(browser.${name} PROPERTIES
      ENVIRONMENT "VODUPD=$<TARGET_FILE:vodupd>;VODUP_BUILD_DIR=${CMAKE_BINARY_DIR};VODUP_TEST_TMP=${CMAKE_BINARY_DIR}/tests/tmp;VODUP_SANITIZE=$<BOOL:${VODUP_SANITIZE}>;VODUPD_PROBE_WORKERS=0"
      WORKING_DIRECTORY ${CMAKE_SOURCE_DIR}
      RESOURCE_LOCK chromium
      TIMEOUT ${VODUP_BROWSER_TIMEOUT})
  endforeach()
endif()

# A fault the tests cannot cause otherwise, a slow disk: LD_PRELOADed into vodupd by
# tests/integration/commit-races.test.mjs (skipped under the sanitizers, whose runtime
# must come first).
if(NOT VODUP_SANITIZE)
  add_library(vodup_slow_sync MODULE ${CMAKE_SOURCE_DIR}/tests/faults/slow_sync.c)
  target_link_libraries(vodup_slow_sync PRIVATE ${CMAKE_DL_LIBS})
  set_target_properties(vodup_slow_sync PROPERTIES LIBRARY_OUTPUT_DIRECTORY ${CMAKE_BINARY_DIR}/tests)
endif()

# libvodup.a linked as docs/client-sdk.md says (pkg-config --static), from an install.
if(TARGET vodup_static AND EXISTS ${CMAKE_SOURCE_DIR}/examples/upload.c)
  # A sanitizer build's archive needs the sanitizer's runtime at link time too.
  set(VODUP_PC_EXTRA "")
  if(VODUP_SANITIZE)
    set(VODUP_PC_EXTRA "-fsanitize=address,undefined")
  elseif(VODUP_TSAN)
    set(VODUP_PC_EXTRA "-fsanitize=thread")
  endif()
  add_test(NAME client.pkgconfig-static
           COMMAND sh ${CMAKE_SOURCE_DIR}/tests/pkgconfig/static-link.sh ${CMAKE_BINARY_DIR} ${CMAKE_SOURCE_DIR}
                   ${CMAKE_C_COMPILER} "${VODUP_PC_EXTRA}")
  set_tests_properties(client.pkgconfig-static PROPERTIES
    ENVIRONMENT "VODUP_TEST_TMP=${CMAKE_BINARY_DIR}/tests/tmp" TIMEOUT 300)
endif()

# Scale-out (docs/scale-out.md): PostgreSQL, a one-node Ceph cluster with radosgw and HAProxy
# on loopback, started once for all scale tests by the fixture `scale` (scale.up, scale.down:
# scripts/scale/start, stop; down fails if a process is left). Skipped, and shown as skipped,
# when those packages are absent: `scripts/install-deps --scale`.
set(VODUP_SCALE_DIR ${CMAKE_BINARY_DIR}/tests/tmp/scale-cluster)
set(VODUP_SCALE_ENV "VODUP_TEST_TMP=${CMAKE_BINARY_DIR}/tests/tmp;SCALE_ENV=${VODUP_SCALE_DIR}.env")
add_test(NAME scale.up COMMAND bash ${CMAKE_SOURCE_DIR}/tests/scale/up.sh ${VODUP_SCALE_DIR})
add_test(NAME scale.down COMMAND bash ${CMAKE_SOURCE_DIR}/tests/scale/down.sh ${VODUP_SCALE_DIR})
add_test(NAME scale.infra COMMAND bash ${CMAKE_SOURCE_DIR}/tests/scale/infra.sh)
set_tests_properties(scale.up PROPERTIES FIXTURES_SETUP scale SKIP_RETURN_CODE 77 TIMEOUT 180)
set_tests_properties(scale.down PROPERTIES FIXTURES_CLEANUP scale TIMEOUT 60)
set(VODUP_SCALE_TESTS scale.infra)
# The S3 byte store (src/server/store/blob_s3.c) against that radosgw.
if(TARGET vodupd_core)
  add_executable(test_blob_s3 ${CMAKE_SOURCE_DIR}/tests/scale/test_blob_s3.c)
  target_link_libraries(test_blob_s3 PRIVATE vodupd_core PkgConfig::CMOCKA)
  set_target_properties(test_blob_s3 PROPERTIES RUNTIME_OUTPUT_DIRECTORY ${CMAKE_BINARY_DIR}/tests)
  add_test(NAME scale.blob_s3 COMMAND bash ${CMAKE_SOURCE_DIR}/tests/scale/blob_s3.sh $<TARGET_FILE:test_blob_s3>)
  list(APPEND VODUP_SCALE_TESTS scale.blob_s3)
  # The store conformance suite on the PostgreSQL metadata store (meta_pg*.c).
  add_test(NAME scale.meta_pg COMMAND bash ${CMAKE_SOURCE_DIR}/tests/scale/meta_pg.sh
           $<TARGET_FILE:test_store_conformance>)
  list(APPEND VODUP_SCALE_TESTS scale.meta_pg)
  # vodupd --metadata postgres://... end to end (init, CLI and ali-oss uploads, restart).
  add_test(NAME scale.vodupd_pg COMMAND bash ${CMAKE_SOURCE_DIR}/tests/scale/vodupd_pg.sh
           $<TARGET_FILE:vodupd> $<TARGET_FILE:vodup-cli>)
  list(APPEND VODUP_SCALE_TESTS scale.vodupd_pg)
  # vodupd --metadata postgres://... --bytes s3://... on radosgw end to end (refusals at
  # start, uploads, ranges, one blob per part, GC and per-node recovery in the cluster).
  add_test(NAME scale.vodupd_s3 COMMAND bash ${CMAKE_SOURCE_DIR}/tests/scale/vodupd_s3.sh
           $<TARGET_FILE:vodupd> $<TARGET_FILE:vodup-cli>)
  list(APPEND VODUP_SCALE_TESTS scale.vodupd_s3)
  # Three nodes behind HAProxy: uploads spread across them, one SIGKILLed mid-upload, every
  # event once, uploads per second with one node and with three (docs/scale-out.md).
  add_test(NAME scale.cluster COMMAND bash ${CMAKE_SOURCE_DIR}/tests/scale/cluster.sh
           $<TARGET_FILE:vodupd> $<TARGET_FILE:vodup-cli>)
  list(APPEND VODUP_SCALE_TESTS scale.cluster)
endif()
set_tests_properties(${VODUP_SCALE_TESTS} PROPERTIES FIXTURES_REQUIRED scale SKIP_RETURN_CODE 77
  TIMEOUT 300 ENVIRONMENT "${VODUP_SCALE_ENV}")
# An event a SIGKILLed node had taken waits out its lease (2 min) before another node sends it.
if(TEST scale.cluster)
  set_tests_properties(scale.cluster PROPERTIES TIMEOUT 900
    ENVIRONMENT "${VODUP_SCALE_ENV};VODUP_SANITIZE=$<BOOL:${VODUP_SANITIZE}>")
endif()

# Sources are listed in CMakeLists.txt, not globbed: none may be left out.
add_test(NAME build.sources COMMAND ${CMAKE_SOURCE_DIR}/tests/build/sources-listed.sh ${CMAKE_SOURCE_DIR})

# Labels, so a part of the suite runs alone: `ctest -L unit` (in-process, seconds),
# `-L e2e` (real vodupd and client processes), `-L compat` (the official SDKs as peers),
# `-L browser` (headless Chromium), `-L scale` (PostgreSQL, Ceph, HAProxy), `-L fuzz` (corpus
# replays), `-L build` (header and packaging checks). Set here, once, from the names, so a new test file is labelled by
# where it lives.
get_property(VODUP_ALL_TESTS DIRECTORY PROPERTY TESTS)
foreach(t ${VODUP_ALL_TESTS})
  if(t MATCHES "^unit\\.(client_|events$)")
    set(label e2e)   # libvodup against a real vodupd; the event sender against receivers
  elseif(t MATCHES "^unit\\.")
    set(label unit)
  elseif(t MATCHES "^integration\\.")
    set(label e2e)
  elseif(t MATCHES "^compat\\.")
    set(label compat)
  elseif(t MATCHES "^browser\\.")
    set(label browser)
  elseif(t MATCHES "^scale\\.")
    set(label scale)
  elseif(t MATCHES "^fuzz-replay\\.")
    set(label fuzz)
  else()
    set(label build)
  endif()
  set_tests_properties(${t} PROPERTIES LABELS ${label})
endforeach()
