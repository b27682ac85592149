#include <gtest/gtest.h>

#include "hub/http.h"

using namespace sg::hub;

TEST(HubHttp, OriginIsSchemeHostAndExplicitPort) {
  EXPECT_EQ(url_origin("https://HuggingFace.co/api/models/x"), "https://huggingface.co:443");
  EXPECT_EQ(url_origin("http://127.0.0.1:8080/a"), "http://127.0.0.1:8080");
  EXPECT_NE(url_origin("https://huggingface.co/a"), url_origin("https://cdn-lfs.huggingface.co/a"));
  EXPECT_NE(url_origin("http://127.0.0.1:1/a"), url_origin("http://127.0.0.1:2/a"));
  EXPECT_EQ(url_origin("ftp://example.org/x"), "");
  EXPECT_EQ(url_origin("not a url"), "");
}

TEST(HubHttp, OnlyHttpsUnlessTheEndpointIsHttp) {
  EXPECT_TRUE(transport_allowed("https://huggingface.co", "https://cdn.example/x"));
  EXPECT_FALSE(transport_allowed("https://huggingface.co", "http://cdn.example/x"));
  EXPECT_FALSE(transport_allowed("https://huggingface.co", "ftp://cdn.example/x"));
  EXPECT_FALSE(transport_allowed("https://huggingface.co", "file:///etc/passwd"));
  EXPECT_TRUE(transport_allowed("http://127.0.0.1:5000", "http://127.0.0.1:5001/x"));
  EXPECT_FALSE(transport_allowed("http://127.0.0.1:5000", "file:///etc/passwd"));
}

TEST(HubHttp, RelativeRedirectsResolveAgainstTheRequest) {
  EXPECT_EQ(resolve_url("https://hub.example/a/resolve/main/x", "/b/resolve/main/x"),
            "https://hub.example/b/resolve/main/x");
  EXPECT_EQ(resolve_url("https://hub.example/a/b", "https://cdn.example/c"), "https://cdn.example/c");
}

TEST(HubHttp, EscapingKeepsSlashesOnlyWhenAsked) {
  EXPECT_EQ(url_escape("refs/pr/1", false), "refs%2Fpr%2F1");
  EXPECT_EQ(url_escape("sub dir/a+b.json", true), "sub%20dir/a%2Bb.json");
}
