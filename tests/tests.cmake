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
    ENVIRONMENT "VODUP_VECTORS=${CMAKE_SOURCE_DIR}/tests/vectors;VODUP_TEST_TMP=${CMAKE_BINARY_DIR}/tests/tmp;VODUPD=$<TARGET_FILE:vodupd>;VODUP_BUILD_DIR=${CMAKE_BINARY_DIR}"
    TIMEOUT 300)
endforeach()

# The threaded client tests, alone: `make test-tsan` builds and runs just these under
# ThreadSanitizer (with the vodupd they talk to).
add_custom_target(vodup_client_tests)
foreach(src ${VODUP_UNIT_TESTS})
  get_filename_component(name ${src} NAME_WE)
  if(name MATCHES "^test_client")
    add_dependencies(vodup_client_tests ${name})
  endif()
endforeach()
if(TARGET vodupd)
  add_dependencies(vodup_client_tests vodupd)
endif()

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
        ENVIRONMENT "VODUPD=$<TARGET_FILE:vodupd>;VODUP_BUILD_DIR=${CMAKE_BINARY_DIR};VODUP_TEST_TMP=${CMAKE_BINARY_DIR}/tests/tmp;VODUP_SANITIZE=$<BOOL:${VODUP_SANITIZE}>"
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
  if(TARGET vodupd_media)   # the media probe (fuzz_probe): libav* lives only there
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
    if(TARGET vodupd_media)
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
if(NODE AND TARGET vodupd)
  file(GLOB VODUP_BROWSER_TESTS CONFIGURE_DEPENDS ${CMAKE_SOURCE_DIR}/tests/browser/*.test.mjs)
  foreach(src ${VODUP_BROWSER_TESTS})
    get_filename_component(fname ${src} NAME)
    string(REGEX REPLACE "\\.test\\.mjs$" "" name ${fname})
    add_test(NAME browser.${name} COMMAND ${NODE} --test --test-reporter=spec ${src})
    set_tests_properties(browser.${name} PROPERTIES
      ENVIRONMENT "VODUPD=$<TARGET_FILE:vodupd>;VODUP_BUILD_DIR=${CMAKE_BINARY_DIR};VODUP_TEST_TMP=${CMAKE_BINARY_DIR}/tests/tmp;VODUP_SANITIZE=$<BOOL:${VODUP_SANITIZE}>"
      WORKING_DIRECTORY ${CMAKE_SOURCE_DIR}
      TIMEOUT 600)
  endforeach()
endif()
