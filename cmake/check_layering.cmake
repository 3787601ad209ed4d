# The dependency rule (docs/architecture.md): coordinator/ and worker/ depend on shared/ only,
# never on each other, and shared/ on neither; cli/ is the one place that wires them.
# Run as `cmake -DSOURCE_DIR=<root> -P check_layering.cmake`; fails naming every offending line.
if(NOT SOURCE_DIR)
  message(FATAL_ERROR "check_layering: pass -DSOURCE_DIR=<source root>")
endif()
set(violations "")
foreach(rule "coordinator:worker" "shared:worker" "worker:coordinator" "shared:coordinator")
  string(REPLACE ":" ";" parts "${rule}")
  list(GET parts 0 from)
  list(GET parts 1 to)
  file(GLOB_RECURSE files "${SOURCE_DIR}/${from}/*.hpp" "${SOURCE_DIR}/${from}/*.cpp"
       "${SOURCE_DIR}/${from}/*.cu" "${SOURCE_DIR}/${from}/*.cuh" "${SOURCE_DIR}/${from}/*.h")
  foreach(f ${files})
    file(STRINGS "${f}" hits REGEX "#[ \t]*include[ \t]*\"${to}/")
    foreach(h ${hits})
      file(RELATIVE_PATH rel "${SOURCE_DIR}" "${f}")
      string(APPEND violations "\n  ${rel}: ${h}")
    endforeach()
  endforeach()
endforeach()
if(violations)
  message(FATAL_ERROR "layering: coordinator/ and worker/ may include shared/ only, shared/ neither "
                      "(docs/architecture.md); wire them in cli/:${violations}")
endif()
