#include "k8s/webhook/certs.h"

#include <arpa/inet.h>
#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <sys/stat.h>

#include <filesystem>
#include <fstream>
#include <memory>

namespace sluice::k8s {
namespace {

struct Free {
  void operator()(EVP_PKEY* p) const { EVP_PKEY_free(p); }
  void operator()(X509* p) const { X509_free(p); }
  void operator()(X509_EXTENSION* p) const { X509_EXTENSION_free(p); }
  void operator()(BIO* p) const { BIO_free(p); }
  void operator()(BIGNUM* p) const { BN_free(p); }
};
using Key = std::unique_ptr<EVP_PKEY, Free>;
using Cert = std::unique_ptr<X509, Free>;

bool IsIp(const std::string& name) {
  unsigned char buf[16];
  return inet_pton(AF_INET, name.c_str(), buf) == 1 || inet_pton(AF_INET6, name.c_str(), buf) == 1;
}

// RFC 1123 host names, lowercase, optionally with a leading "*." label.
bool IsDnsName(std::string_view name) {
  if (name.starts_with("*.")) name.remove_prefix(2);
  if (name.empty() || name.size() > 253) return false;
  size_t start = 0;
  while (start <= name.size()) {
    size_t dot = name.find('.', start);
    if (dot == std::string_view::npos) dot = name.size();
    std::string_view label = name.substr(start, dot - start);
    if (label.empty() || label.size() > 63 || label.front() == '-' || label.back() == '-') {
      return false;
    }
    for (char c : label) {
      if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-')) return false;
    }
    start = dot + 1;
  }
  return true;
}

Status OpenSslError(const std::string& what) {
  return Status::Internal(what + " failed (OpenSSL error " + std::to_string(ERR_get_error()) + ")");
}

// Adds extension `nid` with the value in openssl.cnf syntax.
Status AddExtension(X509* cert, X509* issuer, int nid, const std::string& value) {
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, issuer, cert, nullptr, nullptr, 0);
  std::unique_ptr<X509_EXTENSION, Free> ext(X509V3_EXT_conf_nid(nullptr, &ctx, nid, value.c_str()));
  if (!ext || X509_add_ext(cert, ext.get(), -1) != 1) {
    return OpenSslError("adding certificate extension " + value);
  }
  return Status::OK();
}

// A certificate for `key` named `common_name`, valid from an hour ago
// (clocks differ) for `days`, with a random serial; not yet signed.
Result<Cert> NewCertificate(EVP_PKEY* key, const std::string& common_name, int days) {
  Cert cert(X509_new());
  if (!cert || X509_set_version(cert.get(), 2) != 1) return OpenSslError("X509_new");
  std::unique_ptr<BIGNUM, Free> serial(BN_new());
  if (!serial || BN_rand(serial.get(), 127, BN_RAND_TOP_ANY, BN_RAND_BOTTOM_ANY) != 1 ||
      BN_to_ASN1_INTEGER(serial.get(), X509_get_serialNumber(cert.get())) == nullptr) {
    return OpenSslError("making a serial number");
  }
  X509_gmtime_adj(X509_getm_notBefore(cert.get()), -3600);
  X509_gmtime_adj(X509_getm_notAfter(cert.get()), static_cast<long>(days) * 86400);
  X509_NAME* subject = X509_get_subject_name(cert.get());
  X509_NAME_add_entry_by_txt(subject, "CN", MBSTRING_ASC,
                             reinterpret_cast<const unsigned char*>(common_name.c_str()), -1, -1,
                             0);
  if (X509_set_pubkey(cert.get(), key) != 1) return OpenSslError("X509_set_pubkey");
  return cert;
}

Result<std::string> ToPem(X509* cert, EVP_PKEY* key) {
  std::unique_ptr<BIO, Free> bio(BIO_new(BIO_s_mem()));
  const int rc = cert != nullptr ? PEM_write_bio_X509(bio.get(), cert)
                                 : PEM_write_bio_PrivateKey(bio.get(), key, nullptr, nullptr, 0,
                                                            nullptr, nullptr);
  if (rc != 1) return OpenSslError("writing PEM");
  char* data = nullptr;
  const long n = BIO_get_mem_data(bio.get(), &data);
  return std::string(data, static_cast<size_t>(n));
}

Status WriteFile(const std::filesystem::path& path, const std::string& text, mode_t mode) {
  std::filesystem::path tmp = path;
  tmp += ".tmp";
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    if (!out) return Status::FailedPrecondition("cannot write " + tmp.string());
    out << text;
    if (!out.flush()) return Status::FailedPrecondition("cannot write " + tmp.string());
  }
  if (chmod(tmp.c_str(), mode) != 0) {
    return Status::FailedPrecondition("cannot chmod " + tmp.string());
  }
  std::error_code ec;
  std::filesystem::rename(tmp, path, ec);
  if (ec)
    return Status::FailedPrecondition("cannot rename to " + path.string() + ": " + ec.message());
  return Status::OK();
}

}  // namespace

Result<WebhookCertificates> GenerateWebhookCertificates(const std::vector<std::string>& names,
                                                        int valid_days) {
  if (names.empty()) {
    return Status::InvalidArgument("give at least one DNS name for the webhook's certificate");
  }
  if (valid_days < 1 || valid_days > 36500) {
    return Status::InvalidArgument("certificate validity must be 1 to 36500 days, not " +
                                   std::to_string(valid_days));
  }
  std::string san;
  for (const std::string& name : names) {
    if (!IsIp(name) && !IsDnsName(name)) {
      return Status::InvalidArgument("\"" + name +
                                     "\" is neither a lowercase DNS name (such as "
                                     "sluice-webhook.sluice.svc) nor an IP address");
    }
    san += (san.empty() ? "" : ",") + std::string(IsIp(name) ? "IP:" : "DNS:") + name;
  }
  Key ca_key(EVP_EC_gen("P-256"));
  Key key(EVP_EC_gen("P-256"));
  if (!ca_key || !key) return OpenSslError("generating an EC key");

  Result<Cert> ca = NewCertificate(ca_key.get(), "sluice-webhook-ca", valid_days);
  if (!ca.ok()) return ca.status();
  X509* ca_cert = ca->get();
  X509_set_issuer_name(ca_cert, X509_get_subject_name(ca_cert));
  for (auto [nid, value] : {std::pair{NID_basic_constraints, "critical,CA:TRUE"},
                            std::pair{NID_key_usage, "critical,keyCertSign,cRLSign"},
                            std::pair{NID_subject_key_identifier, "hash"}}) {
    if (Status s = AddExtension(ca_cert, ca_cert, nid, value); !s.ok()) return s;
  }
  if (X509_sign(ca_cert, ca_key.get(), EVP_sha256()) == 0) return OpenSslError("signing the CA");

  Result<Cert> leaf = NewCertificate(key.get(), names.front(), valid_days);
  if (!leaf.ok()) return leaf.status();
  X509* cert = leaf->get();
  X509_set_issuer_name(cert, X509_get_subject_name(ca_cert));
  for (auto [nid, value] : {std::pair{NID_basic_constraints, std::string("critical,CA:FALSE")},
                            std::pair{NID_key_usage, std::string("critical,digitalSignature")},
                            std::pair{NID_ext_key_usage, std::string("serverAuth")},
                            std::pair{NID_authority_key_identifier, std::string("keyid")},
                            std::pair{NID_subject_alt_name, san}}) {
    if (Status s = AddExtension(cert, ca_cert, nid, value); !s.ok()) return s;
  }
  if (X509_sign(cert, ca_key.get(), EVP_sha256()) == 0) return OpenSslError("signing the cert");

  WebhookCertificates out;
  for (auto [pem, c, k] : {std::tuple{&out.ca_crt, ca_cert, static_cast<EVP_PKEY*>(nullptr)},
                           std::tuple{&out.tls_crt, cert, static_cast<EVP_PKEY*>(nullptr)},
                           std::tuple{&out.tls_key, static_cast<X509*>(nullptr), key.get()}}) {
    Result<std::string> text = ToPem(c, k);
    if (!text.ok()) return text.status();
    *pem = *text;
  }
  return out;
}

Status WriteWebhookCertificates(const WebhookCertificates& certs, const std::string& dir) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) return Status::FailedPrecondition("cannot create " + dir + ": " + ec.message());
  const std::filesystem::path base(dir);
  for (auto [name, text, mode] :
       {std::tuple{"ca.crt", &certs.ca_crt, 0644}, std::tuple{"tls.crt", &certs.tls_crt, 0644},
        std::tuple{"tls.key", &certs.tls_key, 0600}}) {
    if (Status s = WriteFile(base / name, *text, static_cast<mode_t>(mode)); !s.ok()) return s;
  }
  return Status::OK();
}

}  // namespace sluice::k8s
