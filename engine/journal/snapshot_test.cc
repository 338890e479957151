#include "engine/journal/snapshot.h"

#include <filesystem>
#include <string>

#include "absl/strings/match.h"
#include "engine/journal/journal_format.h"
#include "engine/journal/journal_test_util.h"
#include "gtest/gtest.h"

namespace msx::journal {
namespace {

using testing::TempDir;

TEST(SnapshotTest, WrittenStateReadsBackWithItsSeq) {
  TempDir dir;
  std::string state(100000, '\0');
  for (std::size_t i = 0; i < state.size(); ++i) state[i] = static_cast<char>(i * 7);
  ASSERT_TRUE(WriteSnapshot(dir.path(), 42, state).ok());
  auto snaps = ListSnapshots(dir.path());
  ASSERT_TRUE(snaps.ok());
  ASSERT_EQ(snaps->size(), 1u);
  EXPECT_EQ((*snaps)[0].seq, 42u);
  EXPECT_EQ((*snaps)[0].path, dir.file("snapshot-00000000000000000042.msxs"));
  auto data = ReadSnapshot((*snaps)[0].path);
  ASSERT_TRUE(data.ok()) << data.status();
  EXPECT_EQ(data->seq, 42u);
  EXPECT_EQ(data->state, state);
  EXPECT_EQ(testing::FileSize((*snaps)[0].path), kSnapshotHeaderSize + state.size());
}

TEST(SnapshotTest, EmptyStateIsAValidSnapshot) {
  TempDir dir;
  ASSERT_TRUE(WriteSnapshot(dir.path(), 1, "").ok());
  auto data = ReadSnapshot(dir.file(SnapshotFileName(1)));
  ASSERT_TRUE(data.ok()) << data.status();
  EXPECT_TRUE(data->state.empty());
}

TEST(SnapshotTest, KeepsOnlyTheNewestAndRemovesLeftoverTemporaries) {
  TempDir dir;
  testing::WriteAll(dir.file(SnapshotFileName(5) + ".tmp"), "half written");
  for (Seq s : {10, 20, 30, 40}) ASSERT_TRUE(WriteSnapshot(dir.path(), s, "x").ok());
  auto snaps = ListSnapshots(dir.path());
  ASSERT_TRUE(snaps.ok());
  ASSERT_EQ(snaps->size(), 2u);
  EXPECT_EQ((*snaps)[0].seq, 40u);
  EXPECT_EQ((*snaps)[1].seq, 30u);
  EXPECT_FALSE(std::filesystem::exists(dir.file(SnapshotFileName(5) + ".tmp")));
}

TEST(SnapshotTest, FlippedStateByteIsAChecksumMismatch) {
  TempDir dir;
  ASSERT_TRUE(WriteSnapshot(dir.path(), 7, std::string(1000, 'a')).ok());
  std::string path = dir.file(SnapshotFileName(7));
  testing::FlipByte(path, kSnapshotHeaderSize + 500);
  auto data = ReadSnapshot(path);
  EXPECT_TRUE(absl::IsDataLoss(data.status()));
  EXPECT_TRUE(absl::StartsWith(data.status().message(), path + ":40: ")) << data.status();
  EXPECT_TRUE(absl::StrContains(data.status().message(), "checksum")) << data.status();
}

TEST(SnapshotTest, TruncatedOrForeignFilesAreRejected) {
  TempDir dir;
  ASSERT_TRUE(WriteSnapshot(dir.path(), 7, std::string(1000, 'a')).ok());
  std::string path = dir.file(SnapshotFileName(7));
  testing::TruncateTo(path, 900);
  EXPECT_TRUE(absl::IsDataLoss(ReadSnapshot(path).status()));
  testing::TruncateTo(path, 10);
  EXPECT_TRUE(absl::IsDataLoss(ReadSnapshot(path).status()));
  testing::WriteAll(path, std::string(200, 'z'));
  EXPECT_TRUE(absl::StrContains(ReadSnapshot(path).status().message(), "magic"));
}

TEST(SnapshotTest, SnapshotRenamedToAnotherSeqIsRejected) {
  TempDir dir;
  ASSERT_TRUE(WriteSnapshot(dir.path(), 7, "state").ok());
  std::filesystem::rename(dir.file(SnapshotFileName(7)), dir.file(SnapshotFileName(8)));
  auto data = ReadSnapshot(dir.file(SnapshotFileName(8)));
  EXPECT_TRUE(absl::IsDataLoss(data.status()));
  EXPECT_TRUE(absl::StrContains(data.status().message(), "file name")) << data.status();
}

}  // namespace
}  // namespace msx::journal
