# Run after a test executable is built (cmake -P): lists its gtest test suites and writes one ctest entry per
# suite (e.g. "Shapes/SageInt8VsMath"), each running that suite's cases in one process. A case per process
# would cost a process start (libtorch's load) per case: about 1,300 of them, 700 of which only skip on a
# machine without a GPU. Every entry sets SAGEVAL_ALL_SKIPPED_EXIT_CODE=77, so a suite whose cases all skip
# shows in ctest as Skipped, never as Passed.
# Inputs: EXE, PREFIX (prepended to the names), LABELS (comma-separated), OUT_FILE, TIMEOUT (seconds),
# RESOURCES (the entries' RESOURCE_GROUPS, e.g. "gpus:1"; empty for CPU tests).
execute_process(COMMAND "${EXE}" --gtest_list_tests OUTPUT_VARIABLE listing ERROR_VARIABLE errors
                RESULT_VARIABLE rc TIMEOUT ${TIMEOUT})
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "listing the tests of ${EXE} failed (${rc}):\n${listing}\n${errors}")
endif()
string(REPLACE "," ";" labels "${LABELS}")
string(REPLACE "\n" ";" lines "${listing}")
set(content "# Written by cmake/sageval_suite_tests.cmake from `${EXE} --gtest_list_tests`.\n")
foreach(line IN LISTS lines)
  # Suite lines start in column 0 and end with '.', optionally followed by "  # TypeParam = ...".
  if(line MATCHES "^([^ #][^ ]*)\\.( .*)?$")
    set(name "${PREFIX}${CMAKE_MATCH_1}")
    string(APPEND content
      "add_test([=[${name}]=] [=[${EXE}]=] [=[--gtest_filter=${CMAKE_MATCH_1}.*]=])\n"
      "set_tests_properties([=[${name}]=] PROPERTIES LABELS [=[${labels}]=] SKIP_RETURN_CODE 77\n"
      "  ENVIRONMENT SAGEVAL_ALL_SKIPPED_EXIT_CODE=77)\n")
    if(NOT "${RESOURCES}" STREQUAL "")
      string(APPEND content "set_tests_properties([=[${name}]=] PROPERTIES RESOURCE_GROUPS [=[${RESOURCES}]=])\n")
    endif()
  endif()
endforeach()
file(WRITE "${OUT_FILE}" "${content}")
