// The dashboard's page, script and style, embedded in msx-server at build time from
// gateway/http/static/ (generated static_files.cc): the page needs nothing from any other
// server (air-gapped networks).
#ifndef MSX_GATEWAY_HTTP_STATIC_FILES_H_
#define MSX_GATEWAY_HTTP_STATIC_FILES_H_

#include <string_view>

namespace msx::gateway::http {

struct StaticFile {
  const char* content_type;
  std::string_view body;
};

// The file served at `path` ("/index.html", "/dashboard.js", "/dashboard.css"), or null.
const StaticFile* FindStaticFile(std::string_view path);

}  // namespace msx::gateway::http

#endif  // MSX_GATEWAY_HTTP_STATIC_FILES_H_
