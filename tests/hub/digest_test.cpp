#include <gtest/gtest.h>

#include "hub/digest.h"

using sg::hub::Digest;

TEST(HubDigest, Sha256KnownVectors) {
  EXPECT_EQ(sg::hub::sha256_hex(""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(sg::hub::sha256_hex("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

TEST(HubDigest, GitBlobIdMatchesGitHashObject) {
  // `printf 'hello world\n' | git hash-object --stdin`
  EXPECT_EQ(sg::hub::git_blob_sha1_hex("hello world\n"), "3b18e512dba79e4c8300dd08aeb37f8e728b8dad");
  // `git hash-object /dev/null`
  EXPECT_EQ(sg::hub::git_blob_sha1_hex(""), "e69de29bb2d1d6434b8b29ae775ad8c2e48c5391");
}

TEST(HubDigest, IncrementalAndResetGiveTheSameDigest) {
  Digest d(Digest::Kind::Sha256, 3);
  d.update("x", 1);  // a discarded prefix (a server that ignored Range)
  d.reset();
  d.update("a", 1);
  d.update("bc", 2);
  EXPECT_EQ(d.hex(), sg::hub::sha256_hex("abc"));
}
