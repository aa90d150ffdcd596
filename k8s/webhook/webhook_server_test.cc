// The webhook over real HTTPS on 127.0.0.1, with certificates from certs.cc
// and curl as the client (as the API server, it checks the certificate
// against the CA under the Service's DNS name).
#include "k8s/webhook/webhook_server.h"

#include <gtest/gtest.h>
#include <openssl/bio.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <sys/wait.h>

#include <array>
#include <cstdio>
#include <filesystem>
#include <fstream>

#include "k8s/webhook/certs.h"

namespace sluice::k8s {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

constexpr const char* kHost = "sluice-webhook.sluice.svc";

struct CurlResult {
  int exit_code = 0;
  int http_status = 0;
  std::string body;
};

// Runs curl against the server: the body is written to a file so that the
// command line stays short and free of quoting trouble.
CurlResult Curl(const fs::path& dir, int port, const std::string& method, const std::string& path,
                const std::string& body, const std::string& ca = "ca.crt") {
  std::ofstream(dir / "body.json") << body;
  const std::string cmd = "curl -sS -o " + (dir / "out").string() + " -w '%{http_code}' --cacert " +
                          (dir / ca).string() + " --resolve " + kHost + ":" + std::to_string(port) +
                          ":127.0.0.1 -X " + method +
                          " -H 'Content-Type: application/json' --data-binary @" +
                          (dir / "body.json").string() + " https://" + kHost + ":" +
                          std::to_string(port) + path + " 2>/dev/null";
  FILE* pipe = popen(cmd.c_str(), "r");
  std::array<char, 64> buf{};
  std::string code;
  while (fgets(buf.data(), buf.size(), pipe) != nullptr) code += buf.data();
  CurlResult r;
  r.exit_code = WEXITSTATUS(pclose(pipe));
  r.http_status = code.empty() ? 0 : std::stoi(code);
  std::ifstream in(dir / "out");
  r.body.assign(std::istreambuf_iterator<char>(in), {});
  fs::remove(dir / "out");
  return r;
}

std::string AdmissionReview(const json& annotations) {
  json pod = {
      {"metadata", {{"name", "p"}, {"annotations", annotations}}},
      {"spec", {{"schedulerName", "sluice"}, {"containers", json::array({{{"name", "main"}}})}}}};
  return json{{"apiVersion", "admission.k8s.io/v1"},
              {"kind", "AdmissionReview"},
              {"request",
               {{"uid", "u-1"},
                {"kind", {{"group", ""}, {"version", "v1"}, {"kind", "Pod"}}},
                {"operation", "CREATE"},
                {"object", pod}}}}
      .dump();
}

class WebhookServerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("sluice-webhook-test-" + std::to_string(getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    auto certs = GenerateWebhookCertificates({kHost, "sluice-webhook.sluice", "127.0.0.1"});
    ASSERT_TRUE(certs.ok()) << certs.status().message();
    certs_ = *certs;
    ASSERT_TRUE(WriteWebhookCertificates(certs_, dir_.string()).ok());
    WebhookServerOptions options;
    options.cert_file = (dir_ / "tls.crt").string();
    options.key_file = (dir_ / "tls.key").string();
    options.address = "127.0.0.1";
    options.port = 0;
    options.namer = [] { return std::string("sluice-gpu-00000000aa"); };
    auto server = WebhookServer::Start(options);
    ASSERT_TRUE(server.ok()) << server.status().message();
    server_ = std::move(server).value();
  }
  void TearDown() override {
    server_.reset();
    fs::remove_all(dir_);
  }

  fs::path dir_;
  WebhookCertificates certs_;
  std::unique_ptr<WebhookServer> server_;
};

TEST_F(WebhookServerTest, MutatesAFractionalPodOverHttps) {
  CurlResult r = Curl(dir_, server_->port(), "POST", "/mutate?timeout=10s",
                      AdmissionReview({{"sluice.dev/gpu-fraction", "0.5"}}));
  ASSERT_EQ(r.exit_code, 0);
  ASSERT_EQ(r.http_status, 200) << r.body;
  const json review = json::parse(r.body);
  EXPECT_EQ(review["kind"], "AdmissionReview");
  EXPECT_EQ(review["response"]["uid"], "u-1");
  EXPECT_EQ(review["response"]["allowed"], true);
  EXPECT_EQ(review["response"]["patchType"], "JSONPatch");
  std::string patch = review["response"]["patch"];
  std::string decoded(patch.size(), '\0');
  const int n = EVP_DecodeBlock(reinterpret_cast<unsigned char*>(decoded.data()),
                                reinterpret_cast<const unsigned char*>(patch.data()),
                                static_cast<int>(patch.size()));
  ASSERT_GT(n, 0);
  decoded.resize(decoded.find_last_not_of('\0') + 1);
  const json ops = json::parse(decoded);
  EXPECT_EQ(ops[0], json({{"op", "add"},
                          {"path", "/metadata/annotations/sluice.dev~1gpu-configmap"},
                          {"value", "sluice-gpu-00000000aa"}}));
}

TEST_F(WebhookServerTest, RefusesABadAnnotationWith200AndAMessage) {
  CurlResult r = Curl(dir_, server_->port(), "POST", "/validate",
                      AdmissionReview({{"sluice.dev/gpu-fraction", "1.5"}}));
  ASSERT_EQ(r.http_status, 200) << r.body;
  const json review = json::parse(r.body);
  EXPECT_EQ(review["response"]["allowed"], false);
  EXPECT_NE(review["response"]["status"]["message"].get<std::string>().find("\"1.5\""),
            std::string::npos);
}

TEST_F(WebhookServerTest, GarbageGets400AndTheServerCarriesOn) {
  CurlResult r = Curl(dir_, server_->port(), "POST", "/mutate", "{\"kind\": 7");
  EXPECT_EQ(r.http_status, 400);
  EXPECT_EQ(r.body, "the request body is not JSON; expected an AdmissionReview\n");
  r = Curl(dir_, server_->port(), "POST", "/mutate", R"({"kind":"Pod"})");
  EXPECT_EQ(r.http_status, 400);
  r = Curl(dir_, server_->port(), "GET", "/mutate", "");
  EXPECT_EQ(r.http_status, 405);
  r = Curl(dir_, server_->port(), "POST", "/nowhere", "");
  EXPECT_EQ(r.http_status, 404);
  r = Curl(dir_, server_->port(), "GET", "/healthz", "");
  EXPECT_EQ(r.http_status, 200);
  EXPECT_EQ(r.body, "ok\n");
}

TEST_F(WebhookServerTest, MalformedHttpAndHugeBodiesAreAnsweredNotFatal) {
  // Not HTTP at all, inside a good TLS session.
  const std::string port = std::to_string(server_->port());
  FILE* pipe = popen(("printf 'NOT HTTP AT ALL\\r\\n\\r\\n' | openssl s_client -quiet -connect "
                      "127.0.0.1:" +
                      port + " 2>/dev/null")
                         .c_str(),
                     "r");
  std::array<char, 4096> buf{};
  std::string reply;
  size_t n = 0;
  while ((n = fread(buf.data(), 1, buf.size(), pipe)) > 0) reply.append(buf.data(), n);
  pclose(pipe);
  EXPECT_EQ(reply.rfind("HTTP/1.1 400 Bad Request", 0), 0u) << reply;
  EXPECT_NE(reply.find("malformed HTTP request"), std::string::npos) << reply;
  // A body over the limit.
  CurlResult big = Curl(dir_, server_->port(), "POST", "/mutate", std::string(9 << 20, 'x'));
  EXPECT_EQ(big.http_status, 413);
  EXPECT_EQ(big.body, "the request body is larger than 8 MiB\n");
  // Still serving.
  EXPECT_EQ(Curl(dir_, server_->port(), "GET", "/healthz", "").http_status, 200);
}

TEST_F(WebhookServerTest, AClientThatTrustsAnotherCaIsTurnedAway) {
  auto other = GenerateWebhookCertificates({kHost});
  ASSERT_TRUE(other.ok());
  std::ofstream(dir_ / "other-ca.crt") << other->ca_crt;
  CurlResult r = Curl(dir_, server_->port(), "GET", "/healthz", "", "other-ca.crt");
  EXPECT_EQ(r.exit_code, 60);  // curl: the peer's certificate cannot be verified
}

TEST_F(WebhookServerTest, BadCertificateFilesAreNamed) {
  WebhookServerOptions options;
  options.cert_file = (dir_ / "missing.crt").string();
  options.key_file = (dir_ / "tls.key").string();
  auto s = WebhookServer::Start(options);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.status().message().rfind("--cert " + options.cert_file + ": cannot load", 0), 0u)
      << s.status().message();
  options.cert_file = (dir_ / "tls.crt").string();
  options.key_file = (dir_ / "ca.crt").string();
  s = WebhookServer::Start(options);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.status().message().rfind("--key ", 0), 0u) << s.status().message();
  options.key_file = (dir_ / "tls.key").string();
  options.address = "not-an-ip";
  EXPECT_EQ(WebhookServer::Start(options).status().message(),
            "--address: \"not-an-ip\" is not an IP address");
}

// The serving certificate chains to the CA and names the Service.
TEST(WebhookCertificatesTest, ServingCertificateIsSignedByTheCaForTheNames) {
  auto certs = GenerateWebhookCertificates({kHost, "10.0.0.1"}, 30);
  ASSERT_TRUE(certs.ok()) << certs.status().message();
  auto read = [](const std::string& pem) {
    BIO* bio = BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size()));
    X509* x = PEM_read_bio_X509(bio, nullptr, nullptr, nullptr);
    BIO_free(bio);
    return x;
  };
  X509* ca = read(certs->ca_crt);
  X509* leaf = read(certs->tls_crt);
  ASSERT_NE(ca, nullptr);
  ASSERT_NE(leaf, nullptr);
  EVP_PKEY* ca_key = X509_get_pubkey(ca);
  EXPECT_EQ(X509_verify(leaf, ca_key), 1);
  EXPECT_EQ(X509_verify(ca, ca_key), 1);
  EXPECT_EQ(X509_check_ca(ca), 1);
  EXPECT_EQ(X509_check_ca(leaf), 0);
  EXPECT_EQ(X509_check_host(leaf, kHost, 0, 0, nullptr), 1);
  EXPECT_EQ(X509_check_host(leaf, "other.sluice.svc", 0, 0, nullptr), 0);
  EXPECT_EQ(X509_check_ip_asc(leaf, "10.0.0.1", 0), 1);
  EXPECT_NE(certs->tls_key.find("BEGIN PRIVATE KEY"), std::string::npos);
  EVP_PKEY_free(ca_key);
  X509_free(ca);
  X509_free(leaf);
}

TEST(WebhookCertificatesTest, BadNamesAreRefused) {
  EXPECT_EQ(GenerateWebhookCertificates({}).status().message(),
            "give at least one DNS name for the webhook's certificate");
  EXPECT_EQ(GenerateWebhookCertificates({"Bad_Name"}).status().message(),
            "\"Bad_Name\" is neither a lowercase DNS name (such as sluice-webhook.sluice.svc) nor "
            "an IP address");
  EXPECT_FALSE(GenerateWebhookCertificates({"a..b"}).ok());
  EXPECT_FALSE(GenerateWebhookCertificates({kHost}, 0).ok());
}

TEST(WebhookCertificatesTest, KeyFileIsPrivate) {
  auto certs = GenerateWebhookCertificates({kHost});
  ASSERT_TRUE(certs.ok());
  const fs::path dir = fs::temp_directory_path() / ("sluice-certs-" + std::to_string(getpid()));
  ASSERT_TRUE(WriteWebhookCertificates(*certs, (dir / "sub").string()).ok());
  EXPECT_EQ(fs::status(dir / "sub" / "tls.key").permissions() & fs::perms::all,
            fs::perms::owner_read | fs::perms::owner_write);
  std::ifstream in(dir / "sub" / "ca.crt");
  std::string text((std::istreambuf_iterator<char>(in)), {});
  EXPECT_EQ(text, certs->ca_crt);
  fs::remove_all(dir);
}

}  // namespace
}  // namespace sluice::k8s
