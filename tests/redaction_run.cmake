# Runs the test suites with canary API keys in the environment and fails if any output (including every
# passing assertion's expansion) contains one of them.
set(CANARY "sk-alloy-env-canary-5e8d1c2b3a4f")
set(GOOGLE_CANARY "AIzaAlloyEnvCanary5e8d1c2b3a4f012345678")
foreach(suite ${SUITES})
  execute_process(
    COMMAND ${CMAKE_COMMAND} -E env OPENAI_API_KEY=${CANARY} ANTHROPIC_API_KEY=${CANARY} GEMINI_API_KEY=${GOOGLE_CANARY}
            GOOGLE_API_KEY=${GOOGLE_CANARY} ${suite} --success
    OUTPUT_VARIABLE out ERROR_VARIABLE err RESULT_VARIABLE rc)
  if(rc)
    # Show the end of the output (canaries masked) so the failing test case can be found.
    set(tail "${out}${err}")
    string(REPLACE "${CANARY}" "***" tail "${tail}")
    string(REPLACE "${GOOGLE_CANARY}" "***" tail "${tail}")
    string(LENGTH "${tail}" size)
    if(size GREATER 6000)
      math(EXPR from "${size} - 6000")
      string(SUBSTRING "${tail}" ${from} 6000 tail)
    endif()
    message(FATAL_ERROR "${suite} failed with the canary keys set (${rc}); end of its output:\n${tail}")
  endif()
  foreach(secret ${CANARY} ${GOOGLE_CANARY})
    string(FIND "${out}${err}" "${secret}" at)
    if(NOT at EQUAL -1)
      message(FATAL_ERROR "an API key from the environment appeared in the output of ${suite}")
    endif()
  endforeach()
  string(LENGTH "${out}${err}" size)
  message(STATUS "${suite}: ${size} bytes of output, no key")
endforeach()
