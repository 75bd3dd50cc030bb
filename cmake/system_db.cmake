# The system tuning database: lk-db imports every committed results/<device>/tuning.csv into
# ${CMAKE_BINARY_DIR}/tuning.db at build time (no CSV gives an empty, valid database). The
# library finds it there when run from the build tree (LK_BUILD_DB) and at
# ${CMAKE_INSTALL_DATADIR}/longkern/tuning.db once installed (LK_SYSTEM_DB).

add_executable(lk-db tools/lk_db.c)
target_include_directories(lk-db PRIVATE ${CMAKE_SOURCE_DIR}/lib ${CMAKE_SOURCE_DIR}/lib/core)
target_link_libraries(lk-db PRIVATE longkern lk_cli_number SQLite::SQLite3)
install(TARGETS lk-db RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})

file(GLOB LK_TUNING_CSVS CONFIGURE_DEPENDS ${CMAKE_SOURCE_DIR}/results/*/tuning.csv)
list(SORT LK_TUNING_CSVS)
set(LK_SYSTEM_DB_FILE ${CMAKE_BINARY_DIR}/tuning.db)
set(LK_SYSTEM_DB_TMP ${CMAKE_BINARY_DIR}/tuning.db.tmp)

# Built under a temporary name and renamed, so a failed import (a malformed CSV fails the build
# with its line number) never leaves a half-made tuning.db that looks up to date.
add_custom_command(
  OUTPUT ${LK_SYSTEM_DB_FILE}
  COMMAND ${CMAKE_COMMAND} -E rm -f ${LK_SYSTEM_DB_TMP} ${LK_SYSTEM_DB_TMP}-wal ${LK_SYSTEM_DB_TMP}-shm
  COMMAND lk-db import ${LK_TUNING_CSVS} --db ${LK_SYSTEM_DB_TMP} --rollback-journal
  COMMAND ${CMAKE_COMMAND} -E rm -f ${LK_SYSTEM_DB_FILE} ${LK_SYSTEM_DB_FILE}-wal ${LK_SYSTEM_DB_FILE}-shm
  COMMAND ${CMAKE_COMMAND} -E rename ${LK_SYSTEM_DB_TMP} ${LK_SYSTEM_DB_FILE}
  DEPENDS lk-db ${LK_TUNING_CSVS}
  COMMENT "Building the system tuning database from ${CMAKE_SOURCE_DIR}/results/*/tuning.csv"
  VERBATIM)
add_custom_target(system_db ALL DEPENDS ${LK_SYSTEM_DB_FILE})

install(FILES ${LK_SYSTEM_DB_FILE} DESTINATION ${CMAKE_INSTALL_DATADIR}/longkern)
