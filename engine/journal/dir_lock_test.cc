// DirLock: a second holder of one directory is refused with a message naming it; the lock
// is released with its holder, also when the holder is a process that dies.
#include "engine/journal/dir_lock.h"

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include "absl/strings/match.h"
#include "engine/journal/journal_test_util.h"
#include "gtest/gtest.h"

namespace msx::journal {
namespace {

using testing::TempDir;

TEST(DirLockTest, SecondHolderIsRefusedNamingTheDirectory) {
  TempDir dir;
  auto first = DirLock::Acquire(dir.path());
  ASSERT_TRUE(first.ok()) << first.status();
  EXPECT_EQ((*first)->path(), dir.file("LOCK"));
  auto second = DirLock::Acquire(dir.path());
  ASSERT_FALSE(second.ok());
  EXPECT_TRUE(absl::IsFailedPrecondition(second.status())) << second.status();
  EXPECT_TRUE(absl::StrContains(second.status().message(), dir.path() + " is in use"))
      << second.status();
  EXPECT_TRUE(absl::StrContains(second.status().message(), "another msx-server holds"))
      << second.status();
  EXPECT_EQ(testing::ReadAll(dir.file("LOCK")), std::to_string(::getpid()) + "\n");
}

TEST(DirLockTest, ReleasedWhenTheHolderIsDestroyed) {
  TempDir dir;
  {
    auto first = DirLock::Acquire(dir.path());
    ASSERT_TRUE(first.ok()) << first.status();
  }
  auto again = DirLock::Acquire(dir.path());
  EXPECT_TRUE(again.ok()) << again.status();
}

TEST(DirLockTest, ReleasedWhenTheHoldingProcessIsKilled) {
  TempDir dir;
  int ready[2];
  ASSERT_EQ(::pipe(ready), 0);
  pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    auto held = DirLock::Acquire(dir.path());
    char c = held.ok() ? 'y' : 'n';
    if (::write(ready[1], &c, 1) != 1) ::_exit(2);
    for (;;) ::pause();
  }
  ::close(ready[1]);
  char c = 0;
  ASSERT_EQ(::read(ready[0], &c, 1), 1);
  ::close(ready[0]);
  ASSERT_EQ(c, 'y');
  EXPECT_FALSE(DirLock::Acquire(dir.path()).ok()) << "held by the child";
  ::kill(child, SIGKILL);
  int status = 0;
  ::waitpid(child, &status, 0);
  auto after = DirLock::Acquire(dir.path());
  EXPECT_TRUE(after.ok()) << after.status();
}

TEST(DirLockTest, MissingDirectoryIsNotFound) {
  TempDir dir;
  auto lock = DirLock::Acquire(dir.file("absent"));
  EXPECT_TRUE(absl::IsNotFound(lock.status())) << lock.status();
}

}  // namespace
}  // namespace msx::journal
