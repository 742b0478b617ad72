# The files the api serves under /static (and /favicon.ico), embedded at build time.
# Vendor files come from node_modules installed by scripts/web-install.sh (make setup), passed as
# -DPOKEFLOW_WEB_MODULES=...; our own from web/static. Large text files are also stored
# gzip'ed (gzip -9n: reproducible) and sent so to clients that accept it.
set(POKEFLOW_WEB_MODULES "" CACHE PATH "node_modules of web/package-lock.json (scripts/web-install.sh prints it)")
if(NOT POKEFLOW_WEB_MODULES OR NOT EXISTS "${POKEFLOW_WEB_MODULES}/swagger-ui-dist/swagger-ui-bundle.js")
  message(FATAL_ERROR "the front-end packages are missing (POKEFLOW_WEB_MODULES='${POKEFLOW_WEB_MODULES}'): "
                      "run make setup, or scripts/web-install.sh and pass -DPOKEFLOW_WEB_MODULES=<the path it prints>")
endif()
find_program(GZIP_PROGRAM gzip REQUIRED)

set(_web ${CMAKE_SOURCE_DIR}/web/static)
set(_nm ${POKEFLOW_WEB_MODULES})
# URL | content type (text types are sent with charset=utf-8) | file | gzip it (1/0)
set(POKEFLOW_WEB_ASSET_LIST
  "/static/style.css|text/css|${_web}/style.css|0"
  "/static/docs.js|text/javascript|${_web}/docs.js|0"
  "/static/dashboard.js|text/javascript|${_web}/dashboard.js|0"
  "/static/images/pokeball.png|image/png|${_web}/images/pokeball.png|0"
  "/favicon.ico|image/png|${_web}/images/pokeball.png|0"
  "/static/swagger-ui/swagger-ui-bundle.js|text/javascript|${_nm}/swagger-ui-dist/swagger-ui-bundle.js|1"
  "/static/swagger-ui/swagger-ui.css|text/css|${_nm}/swagger-ui-dist/swagger-ui.css|1"
  "/static/swagger-ui/LICENSE|text/plain|${_nm}/swagger-ui-dist/LICENSE|0"
  "/static/swagger-ui/NOTICE|text/plain|${_nm}/swagger-ui-dist/NOTICE|0"
  "/static/uplot/uPlot.iife.min.js|text/javascript|${_nm}/uplot/dist/uPlot.iife.min.js|1"
  "/static/uplot/uPlot.min.css|text/css|${_nm}/uplot/dist/uPlot.min.css|0"
  "/static/uplot/LICENSE|text/plain|${_nm}/uplot/LICENSE|0")

set(_gen ${CMAKE_BINARY_DIR}/generated)
file(MAKE_DIRECTORY ${_gen}/web)
set(_manifest "")
set(_deps "")
set(_n 0)
foreach(entry IN LISTS POKEFLOW_WEB_ASSET_LIST)
  string(REPLACE "|" ";" parts "${entry}")
  list(GET parts 0 url)
  list(GET parts 1 type)
  list(GET parts 2 file)
  list(GET parts 3 zip)
  if(NOT EXISTS "${file}")
    message(FATAL_ERROR "web asset ${file} (for ${url}) is missing: run make setup")
  endif()
  list(APPEND _deps "${file}")
  set(gz "")
  if(zip)
    set(gz ${_gen}/web/${_n}.gz)
    add_custom_command(OUTPUT ${gz} COMMAND sh -c "\"$0\" -9 -n -c \"$1\" > \"$2\"" ${GZIP_PROGRAM} "${file}" ${gz}
                       DEPENDS "${file}"
                       COMMENT "gzip ${url}" VERBATIM)
    list(APPEND _deps ${gz})
  endif()
  string(APPEND _manifest "${url}|${type}|${file}|${gz}\n")
  math(EXPR _n "${_n} + 1")
endforeach()
file(CONFIGURE OUTPUT ${_gen}/web-assets.txt CONTENT "${_manifest}")
set(POKEFLOW_WEB_ASSETS_CPP ${_gen}/web_assets.cpp)
add_custom_command(
  OUTPUT ${POKEFLOW_WEB_ASSETS_CPP}
  COMMAND ${CMAKE_COMMAND} -DOUT=${POKEFLOW_WEB_ASSETS_CPP} -DMANIFEST=${_gen}/web-assets.txt
          -P ${CMAKE_SOURCE_DIR}/cmake/embed-assets.cmake
  DEPENDS ${_deps} ${_gen}/web-assets.txt ${CMAKE_SOURCE_DIR}/cmake/embed-assets.cmake
  COMMENT "Embedding the web assets" VERBATIM)
