# CMake package of sdm, installed by scripts/install.sh into
# <prefix>/lib/cmake/sdm/. Relocatable: paths are found from this file.
#
#   find_package(sdm CONFIG REQUIRED)
#   target_link_libraries(app PRIVATE sdm::sdm)
#
# Targets:
#   sdm::sdm_static  libsdm.a, with its link dependencies (pthread, dl, m)
#   sdm::sdm_shared  libsdm.so
#   sdm::sdm         sdm::sdm_static, or sdm::sdm_shared when SDM_USE_SHARED
#                    is ON before find_package (or when only that one exists)
# Each carries <prefix>/include (sdm.h for C, sdm.hpp for C++17).
include(CMakeFindDependencyMacro)
find_dependency(Threads)

get_filename_component(_sdm_prefix "${CMAKE_CURRENT_LIST_DIR}/../../.." ABSOLUTE)
set(_sdm_include "${_sdm_prefix}/include")
set(_sdm_static "${_sdm_prefix}/lib/libsdm.a")
set(_sdm_shared "${_sdm_prefix}/lib/libsdm.so")

if(NOT EXISTS "${_sdm_include}/sdm.h")
    set(sdm_FOUND FALSE)
    set(sdm_NOT_FOUND_MESSAGE "sdm: ${_sdm_include}/sdm.h is missing")
    return()
endif()

if(EXISTS "${_sdm_static}" AND NOT TARGET sdm::sdm_static)
    add_library(sdm::sdm_static STATIC IMPORTED)
    set_target_properties(sdm::sdm_static PROPERTIES
        IMPORTED_LOCATION "${_sdm_static}"
        INTERFACE_INCLUDE_DIRECTORIES "${_sdm_include}"
        INTERFACE_LINK_LIBRARIES "Threads::Threads;${CMAKE_DL_LIBS};m")
endif()
if(EXISTS "${_sdm_shared}" AND NOT TARGET sdm::sdm_shared)
    add_library(sdm::sdm_shared SHARED IMPORTED)
    set_target_properties(sdm::sdm_shared PROPERTIES
        IMPORTED_LOCATION "${_sdm_shared}"
        IMPORTED_NO_SONAME TRUE
        INTERFACE_INCLUDE_DIRECTORIES "${_sdm_include}")
endif()

if(NOT TARGET sdm::sdm)
    if(TARGET sdm::sdm_shared AND (SDM_USE_SHARED OR NOT TARGET sdm::sdm_static))
        add_library(sdm::sdm INTERFACE IMPORTED)
        set_target_properties(sdm::sdm PROPERTIES INTERFACE_LINK_LIBRARIES sdm::sdm_shared)
    elseif(TARGET sdm::sdm_static)
        add_library(sdm::sdm INTERFACE IMPORTED)
        set_target_properties(sdm::sdm PROPERTIES INTERFACE_LINK_LIBRARIES sdm::sdm_static)
    else()
        set(sdm_FOUND FALSE)
        set(sdm_NOT_FOUND_MESSAGE "sdm: neither libsdm.a nor libsdm.so in ${_sdm_prefix}/lib")
        return()
    endif()
endif()

unset(_sdm_prefix)
unset(_sdm_include)
unset(_sdm_static)
unset(_sdm_shared)
