#pragma once
// Every hub test starts from an environment with no HuggingFace or proxy
// variables, so a developer's HF_TOKEN, HF_HOME or http_proxy never leaks in
// (and no request can be routed anywhere but 127.0.0.1).
#include <cstdlib>

namespace sg::test {

inline void clear_hub_env() {
  for (const char* name :
       {"HF_HOME", "HF_HUB_CACHE", "HUGGINGFACE_HUB_CACHE", "XDG_CACHE_HOME", "HF_TOKEN", "HUGGING_FACE_HUB_TOKEN",
        "HF_TOKEN_PATH", "HF_ENDPOINT", "HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE", "http_proxy", "HTTP_PROXY",
        "https_proxy", "HTTPS_PROXY", "all_proxy", "ALL_PROXY"})
    ::unsetenv(name);
}

}  // namespace sg::test
