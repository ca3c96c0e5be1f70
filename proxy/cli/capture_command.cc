#include "cli/capture_command.h"

#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cli/capture_rules.h"

namespace laneproxy::cli {

namespace {

constexpr const char* usage =
    "usage: laneproxy capture install|remove [--dry-run] [--proxy-port 15001]\n"
    "         [--inbound-capture-port 15006] [--proxy-uid 1337] [--proxy-gid 1337]\n"
    "         [--istio-service-cidr CIDRS|*] [--istio-service-exclude-cidr CIDRS]\n"
    "         [--istio-inbound-ports PORTS|*] [--istio-local-exclude-ports PORTS]\n"
    "         [--istio-local-outbound-ports-exclude PORTS] [--annotations FILE]\n"
    "         [--iptables iptables]\n";

// Runs argv with `input` on its stdin; its exit status (127: not started).
int run(const std::vector<std::string>& argv, const std::string& input, bool quiet) {
  int fds[2];
  if (pipe2(fds, O_CLOEXEC) != 0) return 127;
  const pid_t pid = fork();
  if (pid < 0) {
    close(fds[0]);
    close(fds[1]);
    return 127;
  }
  if (pid == 0) {
    dup2(fds[0], 0);
    if (quiet) {
      const int null = open("/dev/null", O_WRONLY);
      dup2(null, 1);
      dup2(null, 2);
    }
    std::vector<char*> args;
    for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    execvp(args[0], args.data());
    _exit(127);
  }
  close(fds[0]);
  for (std::size_t at = 0; at < input.size();) {
    const auto n = write(fds[1], input.data() + at, input.size() - at);
    if (n <= 0) break;
    at += static_cast<std::size_t>(n);
  }
  close(fds[1]);
  int status = 0;
  waitpid(pid, &status, 0);
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

// The removal commands fail where nothing is installed: that is fine.
void remove_rules(const capture_options& o) {
  for (const auto& argv : removal_commands(o)) run(argv, "", true);
}

}  // namespace

int capture_command(const std::vector<std::string>& args, std::ostream& out, std::ostream& err) {
  if (args.empty() || (args[0] != "install" && args[0] != "remove")) {
    err << usage;
    return 2;
  }
  std::string error;
  const auto o = parse_capture_args({args.begin() + 1, args.end()}, error);
  if (!o) {
    err << "laneproxy capture: " << error << "\n" << usage;
    return 2;
  }
  const auto rules = capture_rules(*o);
  if (o->dry_run) {
    if (args[0] == "install") out << rules;
    for (const auto& argv : removal_commands(*o)) {
      if (args[0] == "remove") {
        for (std::size_t i = 0; i < argv.size(); ++i) out << (i ? " " : "") << argv[i];
        out << "\n";
      }
    }
    return 0;
  }
  remove_rules(*o);
  if (args[0] == "remove") {
    out << "laneproxy capture: removed\n";
    return 0;
  }
  const int status = run({o->iptables + "-restore", "-w", "--noflush"}, rules, false);
  if (status != 0) {
    err << "laneproxy capture: " << o->iptables << "-restore failed (exit " << status
        << "); nothing is captured\n";
    remove_rules(*o);
    return 1;
  }
  out << "laneproxy capture: installed: outbound TCP to " << o->outbound_port << ", inbound TCP to "
      << o->inbound_port << ", uid " << o->proxy_uid << " and gid " << o->proxy_gid
      << " left alone\n";
  return 0;
}

}  // namespace laneproxy::cli
