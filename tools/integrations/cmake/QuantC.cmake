# quantc_add_model(<name> RECIPE <recipe.json> [QUANTC <path>] [OUTPUT_DIR <dir>])
#
# Adds a target <name> (built by ALL) that runs `quantc build` on a recipe. The outputs are read
# from the recipe (outputs.model, outputs.report, outputs.pareto with "pareto": true) and land in
# OUTPUT_DIR (default: the current binary dir). `quantc build -MF` writes a depfile listing every
# input it reads (model, external data, calibration and test files, labels, the recipe), so the
# command reruns only when one of them changes. Sets <name>_OUTPUTS in the caller's scope.
# Needs CMake 3.20 (DEPFILE with the Makefile generators) and string(JSON) (3.19).
cmake_minimum_required(VERSION 3.20)

set(QUANTC_EXECUTABLE "quantc" CACHE FILEPATH "The quantc executable quantc_add_model runs")

function(quantc_add_model name)
  cmake_parse_arguments(Q "" "RECIPE;QUANTC;OUTPUT_DIR" "" ${ARGN})
  if(NOT Q_RECIPE)
    message(FATAL_ERROR "quantc_add_model(${name}): RECIPE is required")
  endif()
  get_filename_component(recipe "${Q_RECIPE}" ABSOLUTE)
  if(NOT Q_QUANTC)
    set(Q_QUANTC "${QUANTC_EXECUTABLE}")
  endif()
  if(NOT Q_OUTPUT_DIR)
    set(Q_OUTPUT_DIR "${CMAKE_CURRENT_BINARY_DIR}")
  endif()
  get_filename_component(outdir "${Q_OUTPUT_DIR}" ABSOLUTE BASE_DIR "${CMAKE_CURRENT_BINARY_DIR}")

  # The outputs, as quantc resolves them (relative to the output folder).
  file(READ "${recipe}" json)
  string(JSON model_out GET "${json}" outputs model)
  string(JSON report_out ERROR_VARIABLE no_report GET "${json}" outputs report)
  if(no_report)
    string(REGEX REPLACE "\\.onnx$" "" stem "${model_out}")
    set(report_out "${stem}.report.json")
  endif()
  set(outputs "${outdir}/${model_out}" "${outdir}/${report_out}")
  string(JSON pareto ERROR_VARIABLE no_pareto GET "${json}" pareto)
  if(NOT no_pareto AND pareto)
    string(JSON pareto_out ERROR_VARIABLE no_pareto_out GET "${json}" outputs pareto)
    if(no_pareto_out)
      string(REGEX REPLACE "\\.onnx$" "" stem "${model_out}")
      set(pareto_out "${stem}.pareto.csv")
    endif()
    list(APPEND outputs "${outdir}/${pareto_out}")
  endif()

  set(depfile "${CMAKE_CURRENT_BINARY_DIR}/${name}.quantc.d")
  add_custom_command(
    OUTPUT ${outputs}
    COMMAND "${Q_QUANTC}" build "${recipe}" --output-dir "${outdir}" -MF "${depfile}" -q
    DEPENDS "${recipe}"
    DEPFILE "${depfile}"
    COMMENT "quantc build ${Q_RECIPE}"
    VERBATIM)
  add_custom_target(${name} ALL DEPENDS ${outputs})
  set(${name}_OUTPUTS ${outputs} PARENT_SCOPE)
endfunction()
