// A blocking HTTP/1.1 client for the end-to-end tests of msx-server's HTTP plane
// (gateway/http/), on Boost.Beast. Header-only.
#ifndef MSX_TESTS_TESTING_HTTP_CLIENT_H_
#define MSX_TESTS_TESTING_HTTP_CLIENT_H_

#include <cstdlib>
#include <map>
#include <regex>
#include <sstream>
#include <string>

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

namespace msx::testing {

struct HttpResult {
  int status = 0;  // 0 = no answer (connection failed)
  std::string body;
  std::map<std::string, std::string> headers;  // lower-case names
  std::string error;
};

// One request on a fresh connection. `headers` are extra "Name: value" pairs.
inline HttpResult HttpRequest(int port, const std::string& method, const std::string& target,
                              const std::map<std::string, std::string>& headers = {}) {
  namespace beast = boost::beast;
  namespace http = boost::beast::http;
  HttpResult out;
  try {
    boost::asio::io_context io;
    beast::tcp_stream stream(io);
    stream.expires_after(std::chrono::seconds(20));
    stream.connect(boost::asio::ip::tcp::endpoint(boost::asio::ip::make_address("127.0.0.1"),
                                                   static_cast<unsigned short>(port)));
    http::request<http::string_body> req{http::string_to_verb(method), target, 11};
    req.set(http::field::host, "127.0.0.1");
    for (const auto& [k, v] : headers) req.set(k, v);
    req.prepare_payload();
    http::write(stream, req);
    beast::flat_buffer buffer;
    http::response_parser<http::string_body> parser;
    parser.body_limit(64 << 20);
    http::read(stream, buffer, parser);
    const auto& res = parser.get();
    out.status = static_cast<int>(res.result_int());
    out.body = res.body();
    for (const auto& f : res) {
      std::string name(f.name_string());
      for (char& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      out.headers[name] = std::string(f.value());
    }
    beast::error_code ec;
    stream.socket().shutdown(boost::asio::ip::tcp::socket::shutdown_both, ec);
  } catch (const std::exception& e) {
    out.error = e.what();
  }
  return out;
}

// Prometheus text format -> {"name{labels}": value} (labels exactly as printed).
inline std::map<std::string, double> ParsePrometheus(const std::string& text) {
  std::map<std::string, double> out;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty() || line[0] == '#') continue;
    const std::size_t space = line.rfind(' ');
    if (space == std::string::npos) continue;
    out[line.substr(0, space)] = std::strtod(line.c_str() + space + 1, nullptr);
  }
  return out;
}

// The HTTP port msx-server printed in its banner ("operators' view: http://HOST:PORT/"), or 0.
inline int HttpPortFromBanner(const std::string& output) {
  std::smatch m;
  static const std::regex re("operators' view: http://[^ ]*:([0-9]+)/");
  if (std::regex_search(output, m, re)) return std::atoi(m[1].str().c_str());
  return 0;
}

}  // namespace msx::testing

#endif  // MSX_TESTS_TESTING_HTTP_CLIENT_H_
