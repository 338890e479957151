#include "clients/msx/cli.h"

#include <chrono>
#include <random>
#include <sstream>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "clients/msx/auction_commands.h"
#include "clients/msx/exit_codes.h"
#include "msx/v1/exchange.pb.h"

namespace msx::cli {
namespace po = boost::program_options;
namespace {

struct Subcommand {
  const char* name;
  const char* usage;    // positional arguments, for the usage line
  const char* summary;
  void (*define)(po::options_description&, po::positional_options_description&);
  bool admin;
};

void NoOptions(po::options_description&, po::positional_options_description&) {}

void PairPositional(po::options_description& d, po::positional_options_description& p) {
  d.add_options()("pair", po::value<std::string>()->required(), "pair BASE/QUOTE");
  p.add("pair", 1);
}

void OfferIdPositional(po::options_description& d, po::positional_options_description& p) {
  d.add_options()("offer-id", po::value<std::uint64_t>()->required(), "exchange offer id");
  p.add("offer-id", 1);
}

void DefineBook(po::options_description& d, po::positional_options_description& p) {
  PairPositional(d, p);
  d.add_options()("depth", po::value<std::int32_t>()->default_value(10), "levels per side");
}

// submit, buy and sell (`with_side`: submit, which takes --side).
void DefineOffer(po::options_description& d, bool with_side) {
  d.add_options()
      ("pair", po::value<std::string>()->required(), "pair BASE/QUOTE, e.g. CO-99.8/GA-4N");
  if (with_side) {
    d.add_options()("side", po::value<std::string>()->required(),
                    "buy (give QUOTE, get BASE) or sell (give BASE, get QUOTE)");
  }
  d.add_options()
      ("lots", po::value<std::int64_t>()->required(), "size in whole base lots")
      ("price", po::value<std::int64_t>()->required(),
       "limit price: integer quote units per base lot, on the pair's tick")
      ("tif", po::value<std::string>()->default_value("gtc"), "time in force: gtc|gtd|ioc|fok")
      ("expire-ns", po::value<std::int64_t>(), "GTD expiry, ns since the Unix epoch")
      ("expire-in-ms", po::value<std::int64_t>(), "GTD expiry, milliseconds from now")
      ("min-fill", po::value<std::int64_t>()->default_value(0),
       "minimum first fill in lots (0 = none)")
      ("allow", po::value<std::vector<std::string>>()->multitoken()->composing(),
       "only swap with these agencies (repeatable)")
      ("deny", po::value<std::vector<std::string>>()->multitoken()->composing(),
       "never swap with these agencies (repeatable)")
      ("client-id", po::value<std::uint64_t>(),
       "client offer id (non-zero); generated when absent. Reuse it to retry safely");
  DefineNeedOptions(d);
}

void DefineSubmit(po::options_description& d, po::positional_options_description&) {
  DefineOffer(d, true);
}

void DefineBuyOrSell(po::options_description& d, po::positional_options_description&) {
  DefineOffer(d, false);
}

void DefineReplace(po::options_description& d, po::positional_options_description& p) {
  OfferIdPositional(d, p);
  d.add_options()("lots", po::value<std::int64_t>()->required(),
                  "new TOTAL lots, counting lots already filled: open becomes lots - filled; "
                  "at or below the filled lots, the rest is cancelled")(
      "price", po::value<std::int64_t>()->required(), "new price (quote units per base lot)");
}

void DefineOffers(po::options_description& d, po::positional_options_description&) {
  d.add_options()("pair", po::value<std::string>(), "only offers on this pair");
}

void DefineCount(po::options_description& d) {
  d.add_options()("count", po::value<std::int64_t>()->default_value(0),
                  "exit after this many messages (0 = until interrupted)");
}

void DefineWatch(po::options_description& d, po::positional_options_description&) {
  d.add_options()("from-seq", po::value<std::uint64_t>()->default_value(0),
                  "deliver every report with sequence number > this; to resume, pass the seq "
                  "of the last report you saw with seq_complete set");
  DefineCount(d);
}

void DefineWatchBook(po::options_description& d, po::positional_options_description& p) {
  DefineBook(d, p);
  DefineCount(d);
}

void DefineHealth(po::options_description& d, po::positional_options_description&) {
  d.add_options()("service", po::value<std::string>()->default_value(""),
                  "service name to check (empty = the whole server)");
}

void DefineSetHoldings(po::options_description& d, po::positional_options_description& p) {
  d.add_options()("agency", po::value<std::string>()->required(), "agency id, e.g. KOMIR")(
      "instrument", po::value<std::string>()->required(), "instrument symbol, e.g. CO-99.8")(
      "total", po::value<std::int64_t>()->required(),
      "new declared total in the instrument's unit (available + reserved)");
  p.add("agency", 1).add("instrument", 1).add("total", 1);
}

void DefineAgency(po::options_description& d, po::positional_options_description& p) {
  d.add_options()("agency", po::value<std::string>()->required(), "agency id, e.g. KOMIR");
  p.add("agency", 1);
}

// lend / borrow: a term offer (time swaps).
void DefineTerm(po::options_description& d, po::positional_options_description& p) {
  d.add_options()
      ("book", po::value<std::string>()->required(),
       "term book INSTRUMENT@<days>D, e.g. CO-99.8@90D")
      ("lots", po::value<std::int64_t>()->required(), "size in whole lots of the instrument")
      ("premium-bps", po::value<std::int64_t>()->required(),
       "premium in kind, whole basis points of the lent amount (150 = 1.5 %)")
      ("tif", po::value<std::string>()->default_value("gtc"),
       "time in force: gtc|gtd|ioc|fok (fok: all at once or nothing)")
      ("min-fill", po::value<std::int64_t>()->default_value(0),
       "lend or borrow at least this many lots at once, or nothing (0 = no minimum)")
      ("expire-ns", po::value<std::int64_t>(), "GTD expiry, ns since the Unix epoch")
      ("allow", po::value<std::vector<std::string>>()->multitoken()->composing(),
       "only with these agencies (repeatable)")
      ("deny", po::value<std::vector<std::string>>()->multitoken()->composing(),
       "never with these agencies (repeatable)")
      ("client-id", po::value<std::uint64_t>(),
       "client offer id (non-zero); generated when absent. Reuse it to retry safely");
  p.add("book", 1).add("lots", 1).add("premium-bps", 1);
}

void DefineObligations(po::options_description& d, po::positional_options_description&) {
  d.add_options()("role", po::value<std::string>()->default_value("any"),
                  "lender|borrower|any")(
      "state", po::value<std::string>()->default_value("any"), "open|overdue|closed|any")(
      "agency", po::value<std::string>(), "admins: whose obligations (default: every agency)");
}

void ObligationIdPositional(po::options_description& d, po::positional_options_description& p) {
  d.add_options()("obligation-id", po::value<std::uint64_t>()->required(), "obligation id");
  p.add("obligation-id", 1);
}

void DefineReturn(po::options_description& d, po::positional_options_description& p) {
  ObligationIdPositional(d, p);
  d.add_options()("amount", po::value<std::int64_t>()->required(),
                  "units of the instrument to return (1..outstanding)");
  p.add("amount", 1);
}

// Emergencies (issue 15).
void DefineLevels(po::options_description& d, po::positional_options_description& p) {
  d.add_options()("instrument", po::value<std::string>(),
                  "only this instrument (default: every instrument)");
  p.add("instrument", 1);
}

void DefinePublishReference(po::options_description& d, po::positional_options_description& p) {
  d.add_options()("instrument", po::value<std::string>()->required(),
                  "instrument symbol, e.g. NDPR-OX")(
      "value", po::value<std::int64_t>()->required(),
      "new reference value, micro-USD per unit (> 0)")(
      "floor", po::value<std::int64_t>()->default_value(0),
      "floor, micro-USD per unit (0 = none; may lie above the value)")(
      "effective-ns", po::value<std::int64_t>()->default_value(0),
      "takes effect at this time, ns since the Unix epoch (0 = at once)");
  p.add("instrument", 1).add("value", 1);
}

void DefineMember(po::options_description& d, po::positional_options_description& p) {
  d.add_options()("agreement", po::value<std::string>()->required(),
                  "agreement name, e.g. FORGE")(
      "agency", po::value<std::string>()->required(), "agency id, e.g. IL-MOE");
  p.add("agreement", 1).add("agency", 1);
}

void DefineSetLevel(po::options_description& d, po::positional_options_description& p) {
  d.add_options()("instrument", po::value<std::string>()->required(),
                  "instrument symbol, e.g. CO-99.8")(
      "level", po::value<std::string>()->required(),
      "normal, interest, caution, warning or serious")(
      "reason", po::value<std::string>()->default_value(""), "why, up to 60 bytes");
  p.add("instrument", 1).add("level", 1);
}

// Deliveries (engine/matching/ENGINE.md "Deliveries").
void DefineDeliveries(po::options_description& d, po::positional_options_description&) {
  d.add_options()("state", po::value<std::string>()->default_value("any"),
                  "pending|overdue|confirmed|any")(
      "agency", po::value<std::string>(), "admins: whose deliveries (default: every agency)");
}

void DefineConfirmDelivery(po::options_description& d, po::positional_options_description& p) {
  d.add_options()("delivery-id", po::value<std::uint64_t>()->required(), "delivery id");
  p.add("delivery-id", 1);
}

const Subcommand kSubcommands[] = {
    {"instruments", "", "list the tradeable instruments (unit, lot size, reference value)",
     NoOptions, false},
    {"pairs", "", "list the pair books (tick, band, reference price)", NoOptions, false},
    {"book", "PAIR", "aggregated depth of one pair book", DefineBook, false},
    {"submit", "", "post a swap offer", DefineSubmit, false},
    {"buy", "", "post a buy offer (submit --side buy); --need/--tier for allocation auctions",
     DefineBuyOrSell, false},
    {"sell", "", "post a sell offer (submit --side sell)", DefineBuyOrSell, false},
    {"cancel", "OFFER_ID", "cancel one of your offers", OfferIdPositional, false},
    {"replace", "OFFER_ID", "change lots and price of one of your offers", DefineReplace,
     false},
    {"offer", "OFFER_ID", "show one of your offers", OfferIdPositional, false},
    {"offers", "", "list your open offers", DefineOffers, false},
    {"holdings", "", "your holdings: available and reserved per instrument", NoOptions,
     false},
    {"watch", "", "stream your execution reports (Ctrl-C to stop)", DefineWatch, false},
    {"watch-book", "PAIR", "stream one pair book's depth and trades (Ctrl-C to stop)",
     DefineWatchBook, false},
    {"health", "", "the server's gRPC health status", DefineHealth, false},
    {"set-holdings", "AGENCY INSTRUMENT TOTAL", "admin: declare an agency's holdings",
     DefineSetHoldings, true},
    {"halt", "PAIR", "admin: halt a pair book", PairPositional, true},
    {"resume", "PAIR", "admin: resume a halted pair book", PairPositional, true},
    {"status", "", "admin: the exchange's state (sequence, durability, queue, agencies)",
     NoOptions, true},
    {"agency-holdings", "AGENCY", "admin: any agency's holdings", DefineAgency, true},
    {"lend", "BOOK LOTS PREMIUM_BPS", "offer to lend on a term book (time swaps)", DefineTerm,
     false},
    {"borrow", "BOOK LOTS PREMIUM_BPS", "offer to borrow on a term book (time swaps)",
     DefineTerm, false},
    {"cancel-term", "OFFER_ID", "cancel one of your term offers", OfferIdPositional, false},
    {"replace-term", "OFFER_ID LOTS PREMIUM_BPS",
     "new total lots (lent included) and premium of one of your term offers",
     [](po::options_description& d, po::positional_options_description& p) {
       OfferIdPositional(d, p);
       d.add_options()("lots", po::value<std::int64_t>()->required(),
                       "new total in lots, what was lent included")(
           "premium-bps", po::value<std::int64_t>()->required(), "new premium in basis points");
       p.add("lots", 1).add("premium-bps", 1);
     },
     false},
    {"obligations", "", "your loans: what you lent and what you owe", DefineObligations,
     false},
    {"obligation", "OBLIGATION_ID", "one of your loans", ObligationIdPositional, false},
    {"return", "OBLIGATION_ID AMOUNT", "return units of a loan you owe (early, in part or all)",
     DefineReturn, false},
    {"recall", "OBLIGATION_ID", "recall a loan you made (due after the agreement's notice)",
     ObligationIdPositional, false},
    {"advance-clock", "SECONDS", "admin, drills: move the exchange clock forward",
     [](po::options_description& d, po::positional_options_description& p) {
       d.add_options()("seconds", po::value<std::int64_t>()->required(), "seconds, > 0");
       p.add("seconds", 1);
     },
     true},
    {"levels", "[INSTRUMENT]",
     "each instrument's emergency level and live reference value and floor", DefineLevels,
     false},
    {"admin publish-reference", "INSTRUMENT VALUE",
     "admin: a new reference value (and floor) of an instrument; bands move, offers outside "
     "them are cancelled",
     DefinePublishReference, true},
    {"admin admit", "AGREEMENT AGENCY", "admin: an agency joins an agreement", DefineMember,
     true},
    {"admin suspend", "AGREEMENT AGENCY",
     "admin: an agency leaves an agreement; its offers that relied on it are cancelled",
     DefineMember, true},
    {"deliveries", "",
     "deliveries of your fills made at WARNING or SERIOUS: pending, OVERDUE, confirmed",
     DefineDeliveries, false},
    {"confirm-delivery", "DELIVERY_ID",
     "confirm that the units of a delivery to you arrived (admins: any delivery)",
     DefineConfirmDelivery, false},
    {"admin set-level", "INSTRUMENT LEVEL",
     "admin: an instrument's emergency level; every agency's stream reports it",
     DefineSetLevel, true},
};

const Subcommand* FindSubcommand(const std::string& name) {
  for (const auto& s : kSubcommands) {
    if (name == s.name) return &s;
  }
  return nullptr;
}

struct GlobalFlags {
  std::string server, token, ca_file, cert_file, key_file;
  std::int64_t deadline_ms = 0;
};

po::options_description GlobalOptions(GlobalFlags* flags) {
  po::options_description d("Global options");
  d.add_options()("help,h", "print help (also after a subcommand)")(
      "server", po::value(&flags->server),
      "HOST:PORT of msx-server (env MSX_SERVER; default 127.0.0.1:50051); several, comma-"
      "separated (a primary and its hot standbys): a call answered UNAVAILABLE is made again "
      "on the next, in turn for up to 10 s, a submit with the same client offer id")(
      "token", po::value(&flags->token), "bearer token of your agency (env MSX_TOKEN)")(
      "tls", "connect with TLS")("ca-file", po::value(&flags->ca_file),
                                 "PEM CA bundle to verify the server (TLS)")(
      "cert-file", po::value(&flags->cert_file), "PEM client certificate (mutual TLS)")(
      "key-file", po::value(&flags->key_file), "PEM client private key (mutual TLS)")(
      "deadline-ms", po::value(&flags->deadline_ms),
      "per-call deadline in ms (default 10000 for calls, none for streams)")(
      "json", "machine output: one JSON object per line (protobuf JSON mapping)");
  return d;
}

std::string SubcommandHelp(const Subcommand& s) {
  po::options_description d(absl::StrCat("Options of ", s.name));
  po::positional_options_description p;
  s.define(d, p);
  GlobalFlags unused;
  std::ostringstream out;
  out << "Usage: msx " << s.name << (*s.usage ? " " : "") << s.usage
      << (d.options().empty() ? "" : " [options]") << "\n"
      << s.summary << (s.admin ? " (needs an admin token)" : "") << "\n\n";
  if (!d.options().empty()) out << d << "\n";
  out << GlobalOptions(&unused) << "\n" << ExitCodeTable();
  return out.str();
}

absl::Status Usage(const std::string& message) {
  return absl::InvalidArgumentError(message);
}

}  // namespace

std::vector<std::string> SubcommandNames() {
  std::vector<std::string> names;
  for (const auto& s : kSubcommands) names.emplace_back(s.name);
  return names;
}

std::string TopLevelHelp() {
  GlobalFlags unused;
  std::ostringstream out;
  out << "Usage: msx [options] SUBCOMMAND [args] [options]\n"
         "The MSX agency command line: swap offers, holdings and executions over gRPC.\n"
         "Run `msx SUBCOMMAND --help` for a subcommand's options.\n\nSubcommands:\n";
  for (const auto& s : kSubcommands) {
    std::string head = absl::StrCat(s.name, *s.usage ? " " : "", s.usage);
    out << "  " << head << std::string(head.size() < 40 ? 40 - head.size() : 1, ' ')
        << s.summary << "\n";
  }
  out << "\n" << GlobalOptions(&unused) << "\n" << ExitCodeTable();
  return out.str();
}

absl::StatusOr<int> ParseSide(const std::string& text) {
  std::string t = absl::AsciiStrToLower(text);
  if (t == "buy") return static_cast<int>(v1::SIDE_BUY);
  if (t == "sell") return static_cast<int>(v1::SIDE_SELL);
  return Usage(absl::StrCat("--side must be buy or sell, not '", text, "'"));
}

absl::StatusOr<int> ParseTimeInForce(const std::string& text) {
  std::string t = absl::AsciiStrToLower(text);
  if (t == "gtc") return static_cast<int>(v1::TIME_IN_FORCE_GTC);
  if (t == "gtd") return static_cast<int>(v1::TIME_IN_FORCE_GTD);
  if (t == "ioc") return static_cast<int>(v1::TIME_IN_FORCE_IOC);
  if (t == "fok") return static_cast<int>(v1::TIME_IN_FORCE_FOK);
  return Usage(absl::StrCat("--tif must be gtc, gtd, ioc or fok, not '", text, "'"));
}

absl::StatusOr<int> ParseLevel(const std::string& text) {
  v1::EmergencyLevel level;
  if (!v1::EmergencyLevel_Parse("EMERGENCY_LEVEL_" + absl::AsciiStrToUpper(text), &level) ||
      level == v1::EMERGENCY_LEVEL_UNSPECIFIED) {
    return Usage(absl::StrCat("level must be normal, interest, caution, warning or serious, "
                              "not '",
                              text, "'"));
  }
  return static_cast<int>(level);
}

std::uint64_t GenerateClientOfferId() {
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                std::chrono::system_clock::now().time_since_epoch())
                .count();
  std::random_device rd;
  std::uint64_t random = (static_cast<std::uint64_t>(rd()) << 32) ^ rd();
  // 41 bits of milliseconds last until 2039; the result stays below 2^63.
  std::uint64_t id = (static_cast<std::uint64_t>(ms) << 22) | (random & ((1u << 22) - 1));
  id &= (std::uint64_t{1} << 63) - 1;
  return id == 0 ? 1 : id;
}

absl::StatusOr<Invocation> ParseInvocation(const std::vector<std::string>& args,
                                           const EnvLookup& env) {
  Invocation inv;
  GlobalFlags flags;
  po::options_description global = GlobalOptions(&flags);
  po::options_description hidden;
  hidden.add_options()("command", po::value<std::string>())(
      "subargs", po::value<std::vector<std::string>>());
  po::options_description all;
  all.add(global).add(hidden);
  po::positional_options_description pos;
  pos.add("command", 1).add("subargs", -1);

  po::variables_map vm;
  std::vector<std::string> rest;
  try {
    po::parsed_options parsed =
        po::command_line_parser(args).options(all).positional(pos).allow_unregistered().run();
    po::store(parsed, vm);
    po::notify(vm);
    rest = po::collect_unrecognized(parsed.options, po::include_positional);
  } catch (const po::error& e) {
    return Usage(e.what());
  }

  if (!vm.count("command")) {
    if (vm.count("help")) {
      inv.help = TopLevelHelp();
      return inv;
    }
    if (!rest.empty()) return Usage(absl::StrCat("unrecognised option '", rest.front(), "'"));
    return Usage("missing subcommand (try --help)");
  }
  inv.command = vm["command"].as<std::string>();
  // `rest` holds the subcommand name first, then its own tokens in their original order.
  if (!rest.empty() && rest.front() == inv.command) rest.erase(rest.begin());
  if (inv.command == "admin") {  // two words: "admin set-level", ...
    if (rest.empty() || rest.front().starts_with("-")) {
      if (vm.count("help")) {
        inv.help = TopLevelHelp();
        return inv;
      }
      return Usage("admin: missing action: publish-reference, admit, suspend or set-level");
    }
    inv.command = absl::StrCat("admin ", rest.front());
    rest.erase(rest.begin());
  }
  const Subcommand* sub = FindSubcommand(inv.command);
  if (sub == nullptr) {
    return Usage(absl::StrCat("unknown subcommand '", inv.command, "' (try --help)"));
  }
  if (vm.count("help")) {
    inv.help = SubcommandHelp(*sub);
    return inv;
  }

  po::options_description sub_desc;
  po::positional_options_description sub_pos;
  sub->define(sub_desc, sub_pos);
  try {
    po::store(po::command_line_parser(rest).options(sub_desc).positional(sub_pos).run(),
              inv.args);
    po::notify(inv.args);
  } catch (const po::error& e) {
    return Usage(absl::StrCat(inv.command, ": ", e.what()));
  }

  const char* env_server = env("MSX_SERVER");
  const char* env_token = env("MSX_TOKEN");
  ConnectionOptions& c = inv.connection;
  if (!flags.server.empty()) {
    c.server = flags.server;
  } else if (env_server != nullptr && *env_server != '\0') {
    c.server = env_server;
  }
  if (vm.count("token")) {
    c.token = flags.token;
  } else if (env_token != nullptr) {
    c.token = env_token;
  }
  c.tls = vm.count("tls") > 0 || !flags.ca_file.empty() || !flags.cert_file.empty();
  c.ca_file = flags.ca_file;
  c.cert_file = flags.cert_file;
  c.key_file = flags.key_file;
  if (c.cert_file.empty() != c.key_file.empty()) {
    return Usage("--cert-file and --key-file go together (mutual TLS)");
  }
  if (flags.deadline_ms < 0) return Usage("--deadline-ms must be >= 0");
  c.deadline_ms = flags.deadline_ms;
  inv.json = vm.count("json") > 0;

  // Subcommand checks beyond what the option types enforce.
  if (inv.command == "submit" || inv.command == "buy" || inv.command == "sell") {
    auto side = ParseSide(inv.command == "submit" ? inv.args["side"].as<std::string>()
                                                  : inv.command);
    if (!side.ok()) return side.status();
    absl::Status need = CheckNeedOptions(inv.args, *side);
    if (!need.ok()) return need;
    auto tif = ParseTimeInForce(inv.args["tif"].as<std::string>());
    if (!tif.ok()) return tif.status();
    bool has_expiry = inv.args.count("expire-ns") || inv.args.count("expire-in-ms");
    if (inv.args.count("expire-ns") && inv.args.count("expire-in-ms")) {
      return Usage("give --expire-ns or --expire-in-ms, not both");
    }
    if (*tif == v1::TIME_IN_FORCE_GTD && !has_expiry) {
      return Usage("--tif gtd needs --expire-ns or --expire-in-ms");
    }
    if (*tif != v1::TIME_IN_FORCE_GTD && has_expiry) {
      return Usage("an expiry needs --tif gtd");
    }
    // Bounded so that now + the offset fits in int64 nanoseconds (until the year 2262).
    constexpr std::int64_t kMaxExpireInMs = std::int64_t{10} * 366 * 24 * 3600 * 1000;
    if (inv.args.count("expire-in-ms")) {
      std::int64_t ms = inv.args["expire-in-ms"].as<std::int64_t>();
      if (ms <= 0 || ms > kMaxExpireInMs) {
        return Usage(absl::StrCat("--expire-in-ms must be between 1 and ", kMaxExpireInMs,
                                  " (ten years), not ", ms));
      }
    }
    if (inv.args.count("expire-ns") && inv.args["expire-ns"].as<std::int64_t>() <= 0) {
      return Usage("--expire-ns must be a positive number of ns since the Unix epoch");
    }
    if (inv.args.count("client-id") && inv.args["client-id"].as<std::uint64_t>() == 0) {
      return Usage("--client-id must be non-zero");
    }
  }
  if (inv.command == "admin set-level") {
    auto level = ParseLevel(inv.args["level"].as<std::string>());
    if (!level.ok()) return Usage(absl::StrCat("admin set-level: ", level.status().message()));
  }
  if (inv.command == "deliveries") {
    const std::string state = inv.args["state"].as<std::string>();
    if (state != "pending" && state != "overdue" && state != "confirmed" && state != "any") {
      return Usage(absl::StrCat("--state must be pending, overdue, confirmed or any, not '",
                                state, "'"));
    }
  }
  if (inv.command == "confirm-delivery" && inv.args["delivery-id"].as<std::uint64_t>() == 0) {
    return Usage("confirm-delivery: DELIVERY_ID must be non-zero");
  }
  if ((inv.command == "watch" || inv.command == "watch-book") &&
      inv.args["count"].as<std::int64_t>() < 0) {
    return Usage("--count must be >= 0");
  }
  return inv;
}

}  // namespace msx::cli
