#include "clients/msx/emergency_commands.h"

#include "absl/strings/str_cat.h"
#include "clients/msx/call.h"
#include "clients/msx/render.h"
#include "msx/v1/exchange.grpc.pb.h"

namespace msx::cli {
namespace {

// "USD 12.50", or "-" for 0 (no floor).
std::string UsdOrNone(std::int64_t micro_usd) {
  return micro_usd == 0 ? "-" : FormatMicroUsd(micro_usd);
}

void PrintLevels(const v1::GetLevelsResponse& r, std::ostream& out) {
  Table t({"INSTRUMENT", "LEVEL", "REF_USD_PER_UNIT", "FLOOR_USD_PER_UNIT", "PENDING"});
  for (const v1::InstrumentLevel& l : r.levels()) {
    std::string pending = "-";
    if (l.pending_effective_time_ns() != 0) {
      pending = absl::StrCat(FormatMicroUsd(l.pending_reference_value_micro_usd()), " floor ",
                             UsdOrNone(l.pending_floor_micro_usd()), " from ",
                             FormatTimeNs(l.pending_effective_time_ns()));
    }
    t.AddRow({l.instrument(), LevelName(l.level()), FormatMicroUsd(l.reference_value_micro_usd()),
              UsdOrNone(l.floor_micro_usd()), pending});
  }
  out << t.Render() << "as of seq " << r.seq() << "\n";
}

}  // namespace

std::string LevelName(v1::EmergencyLevel level) {
  const std::string prefix = "EMERGENCY_LEVEL_";
  const std::string& name = v1::EmergencyLevel_Name(level);
  if (level == v1::EMERGENCY_LEVEL_UNSPECIFIED || name.rfind(prefix, 0) != 0) return "?";
  return name.substr(prefix.size());
}

std::string DescribeLevelChange(const v1::LevelChanged& l) {
  return absl::StrCat("level of ", l.instrument(), ": ", LevelName(l.previous()), " -> ",
                      LevelName(l.level()),
                      l.reason().empty() ? "" : absl::StrCat(" (", l.reason(), ")"));
}

int RunEmergencyCommand(const Invocation& inv, const std::shared_ptr<grpc::Channel>& channel,
                        std::ostream& out, std::ostream& err) {
  const auto& args = inv.args;
  const std::string& c = inv.command;
  auto seq = [&](const v1::AdminCommandResponse& r) { return absl::StrCat("; seq ", r.seq()); };
  if (c == "levels") {
    auto exchange = v1::Exchange::NewStub(channel);
    v1::GetLevelsRequest req;
    if (args.count("instrument")) req.set_instrument(args["instrument"].as<std::string>());
    return UnaryCall(inv, out, err, exchange.get(), &v1::Exchange::Stub::GetLevels, req,
                     [&](const v1::GetLevelsResponse& r) { PrintLevels(r, out); });
  }
  auto admin = v1::Admin::NewStub(channel);
  if (c == "admin publish-reference") {
    v1::PublishReferenceRequest req;
    req.set_instrument(args["instrument"].as<std::string>());
    req.set_reference_value_micro_usd(args["value"].as<std::int64_t>());
    req.set_floor_micro_usd(args["floor"].as<std::int64_t>());
    req.set_effective_time_ns(args["effective-ns"].as<std::int64_t>());
    return UnaryCall(
        inv, out, err, admin.get(), &v1::Admin::Stub::PublishReference, req,
        [&](const v1::AdminCommandResponse& r) {
          out << req.instrument() << ": reference USD "
              << FormatMicroUsd(req.reference_value_micro_usd()) << " per unit, floor "
              << (req.floor_micro_usd() != 0 ? "USD " + FormatMicroUsd(req.floor_micro_usd())
                                             : std::string("none"))
              << (req.effective_time_ns() == 0
                      ? std::string()
                      : " from " + FormatTimeNs(req.effective_time_ns()))
              << seq(r) << "\n";
        });
  }
  if (c == "admin set-level") {
    v1::SetEmergencyLevelRequest req;
    req.set_instrument(args["instrument"].as<std::string>());
    // Checked by ParseInvocation.
    req.set_level(static_cast<v1::EmergencyLevel>(*ParseLevel(args["level"].as<std::string>())));
    req.set_reason(args["reason"].as<std::string>());
    return UnaryCall(inv, out, err, admin.get(), &v1::Admin::Stub::SetEmergencyLevel, req,
                     [&](const v1::AdminCommandResponse& r) {
                       out << req.instrument() << " is at " << LevelName(req.level()) << seq(r)
                           << "\n";
                     });
  }
  // admin admit | admin suspend
  const bool admit = c == "admin admit";
  v1::MemberRequest req;
  req.set_agreement(args["agreement"].as<std::string>());
  req.set_agency(args["agency"].as<std::string>());
  return UnaryCall(inv, out, err, admin.get(),
                   admit ? &v1::Admin::Stub::AdmitMember : &v1::Admin::Stub::SuspendMember, req,
                   [&](const v1::AdminCommandResponse& r) {
                     out << req.agency() << (admit ? " admitted to " : " suspended from ")
                         << req.agreement() << seq(r) << "\n";
                   });
}

}  // namespace msx::cli
