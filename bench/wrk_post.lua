-- POSTs the typed scenario's kind of Chat Completions request, for the bare keep-alive HTTP floor:
--   wrk -t1 -c64 -d5s -s bench/wrk_post.lua http://127.0.0.1:PORT/v1/chat/completions
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.body = '{"model":"mock-model","messages":[{"role":"user","content":"Say hello."}]}'
