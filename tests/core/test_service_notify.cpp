#include <unistd.h>

#include <cstdlib>
#include <string>

#include <catch2/catch.hpp>

#include "core/service_notify.hpp"
#include "support/notify_socket.hpp"
#include "support/temp_dir.hpp"

using namespace ibdriver;

using test::NotifySocket;

TEST_CASE("sd_notify's protocol: a datagram to $NOTIFY_SOCKET, a path or the abstract namespace", "[notify]") {
  ::unsetenv("NOTIFY_SOCKET");
  CHECK_FALSE(notify_service_manager("READY=1"));  // not run by systemd: nothing to tell
  test::TempDir dir;
  {
    NotifySocket systemd((dir.path() / "notify").string());
    CHECK(notify_service_manager("READY=1\nSTATUS=done"));
    CHECK(systemd.next() == "READY=1\nSTATUS=done");
  }
  {
    NotifySocket systemd("@ibdriver-test-" + std::to_string(::getpid()));
    CHECK(notify_service_manager("READY=1"));
    CHECK(systemd.next() == "READY=1");
  }
  ::setenv("NOTIFY_SOCKET", (dir.path() / "nobody-listens").c_str(), 1);
  CHECK_FALSE(notify_service_manager("READY=1"));
  ::setenv("NOTIFY_SOCKET", "relative/path", 1);
  CHECK_FALSE(notify_service_manager("READY=1"));
  ::unsetenv("NOTIFY_SOCKET");
}

TEST_CASE("bounded readiness: READY=1 once, when the work is done or when the bound passes", "[notify]") {
  test::TempDir dir;
  NotifySocket systemd((dir.path() / "notify").string());
  SECTION("done within the bound: READY=1 with the result, and nothing more") {
    {
      BoundedReadiness readiness(std::chrono::seconds(3600), "still building");
      readiness.ready("kernel 6.1.0-27-amd64 has every module");
      CHECK_FALSE(readiness.bound_passed());
    }
    CHECK(systemd.next() == "READY=1\nSTATUS=kernel 6.1.0-27-amd64 has every module");
    CHECK_FALSE(systemd.next(false));
  }
  SECTION("the bound passes first: READY=1 says what goes on; being done later updates the status line only") {
    BoundedReadiness readiness(std::chrono::seconds(0), "still building the InfiniBand modules");
    CHECK(systemd.next() == "READY=1\nSTATUS=still building the InfiniBand modules");
    readiness.ready("rebuilt\nsecond line");
    CHECK(readiness.bound_passed());
    CHECK(systemd.next() == "STATUS=rebuilt second line");  // one line: a newline would start another assignment
    CHECK_FALSE(systemd.next(false));
  }
  SECTION("a failure before readiness: READY=1 still goes out (systemd then sees the exit status)") {
    { BoundedReadiness readiness(std::chrono::seconds(3600), "still building"); }
    CHECK(systemd.next() == "READY=1");
  }
}
