# msx_add_test(NAME name SOURCES a.cc b.cc LIBS lib1 lib2 [LABELS l1 l2] [TIMEOUT seconds])
#
# Builds one GoogleTest binary and registers it with CTest as a single test named NAME, so
# `ctest` prints one line per binary and `ctest -L unit` / `-L e2e` select by label.
function(msx_add_test)
  cmake_parse_arguments(T "" "NAME;TIMEOUT" "SOURCES;LIBS;LABELS" ${ARGN})
  add_executable(${T_NAME} ${T_SOURCES})
  target_link_libraries(${T_NAME} PRIVATE ${T_LIBS} GTest::gtest GTest::gtest_main)
  add_test(NAME ${T_NAME} COMMAND ${T_NAME} --gtest_color=no)
  if(NOT T_TIMEOUT)
    set(T_TIMEOUT 300)
  endif()
  if(NOT T_LABELS)
    set(T_LABELS unit)
  endif()
  set(env "MSX_BUILD_DIR=${PROJECT_BINARY_DIR};MSX_SOURCE_DIR=${PROJECT_SOURCE_DIR}")
  if(MSX_SANITIZE)
    # Leaks inside system libraries only (the file says which and why).
    list(APPEND env "LSAN_OPTIONS=suppressions=${PROJECT_SOURCE_DIR}/cmake/lsan.supp")
  endif()
  set_tests_properties(${T_NAME} PROPERTIES TIMEOUT ${T_TIMEOUT} LABELS "${T_LABELS}"
    ENVIRONMENT "${env}")
endfunction()
