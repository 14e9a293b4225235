# Turns distros/catalog.json into a C++ source file holding it as a string.
file(READ ${INPUT} CATALOG_TEXT)
string(FIND "${CATALOG_TEXT}" ")catalog\"" CLASH)
if(NOT CLASH EQUAL -1)
  message(FATAL_ERROR "catalog.json contains the raw-string delimiter")
endif()
file(WRITE ${OUTPUT}.tmp "// Generated from distros/catalog.json: do not edit.\n"
  "#include \"catalog/embedded_catalog.hpp\"\n"
  "namespace ibdriver::catalog {\n"
  "std::string_view embedded_catalog_json() {\n"
  "  static constexpr char text[] = R\"catalog(${CATALOG_TEXT})catalog\";\n"
  "  return {text, sizeof(text) - 1};\n}\n}\n")
file(RENAME ${OUTPUT}.tmp ${OUTPUT})
