# reelscale_warnings(target): the project's warning set, applied to our own targets only.
function(reelscale_warnings target)
  target_compile_options(${target} PRIVATE
    $<$<COMPILE_LANGUAGE:CXX>:-Wall -Wextra -Wpedantic -Wshadow=local -Wnon-virtual-dtor -Wno-missing-field-initializers>)
endfunction()

# reelscale_module(NAME [DEPS target...]): one static library per folder, built from the folder's
# *.cpp (globbed so a new file needs no CMake edit), includable as "folder/sub/file.hpp" from the
# project root.
function(reelscale_module name)
  cmake_parse_arguments(M "" "" "DEPS;EXCLUDE" ${ARGN})
  file(GLOB srcs CONFIGURE_DEPENDS ${CMAKE_CURRENT_SOURCE_DIR}/*.cpp ${CMAKE_CURRENT_SOURCE_DIR}/*.cu)
  foreach(x ${M_EXCLUDE})  # files the folder builds into another library
    list(REMOVE_ITEM srcs ${CMAKE_CURRENT_SOURCE_DIR}/${x})
  endforeach()
  if(NOT REELSCALE_WITH_CUDA)
    list(FILTER srcs EXCLUDE REGEX "\\.cu$")
  endif()
  if(NOT srcs)
    set(srcs ${PROJECT_SOURCE_DIR}/cmake/empty.cpp)  # a folder whose code is headers only
  endif()
  add_library(${name} STATIC ${srcs})
  target_include_directories(${name} PUBLIC ${PROJECT_SOURCE_DIR} ${CMAKE_BINARY_DIR}/generated)
  target_link_libraries(${name} PUBLIC ${M_DEPS})
  reelscale_warnings(${name})
endfunction()
