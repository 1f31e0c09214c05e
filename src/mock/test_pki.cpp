// Test CA and server certificate generation with the OpenSSL 3 C API.
#include <alloy/mock/test_pki.hpp>

#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <memory>
#include <stdexcept>

namespace alloy::mock {
namespace {

struct KeyFree { void operator()(EVP_PKEY* p) const noexcept { EVP_PKEY_free(p); } };
struct CertFree { void operator()(X509* p) const noexcept { X509_free(p); } };
struct BioFree { void operator()(BIO* p) const noexcept { BIO_free(p); } };
using KeyPtr = std::unique_ptr<EVP_PKEY, KeyFree>;
using CertPtr = std::unique_ptr<X509, CertFree>;
using BioPtr = std::unique_ptr<BIO, BioFree>;

void check(bool ok, const char* what) {
    if (!ok) throw std::runtime_error(std::string("test PKI generation failed: ") + what);
}

KeyPtr make_key() {
    KeyPtr key(EVP_EC_gen("P-256"));
    check(key != nullptr, "EC key generation");
    return key;
}

void add_extension(X509* cert, X509* issuer, int nid, const std::string& value) {
    X509V3_CTX ctx;
    X509V3_set_ctx_nodb(&ctx);
    X509V3_set_ctx(&ctx, issuer, cert, nullptr, nullptr, 0);
    X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, &ctx, nid, value.c_str());
    check(ext != nullptr, "certificate extension");
    const int ok = X509_add_ext(cert, ext, -1);
    X509_EXTENSION_free(ext);
    check(ok == 1, "adding a certificate extension");
}

CertPtr make_cert(EVP_PKEY* key, const std::string& common_name) {
    CertPtr cert(X509_new());
    check(cert != nullptr, "X509_new");
    check(X509_set_version(cert.get(), 2) == 1, "certificate version");
    unsigned char serial_bytes[16];
    check(RAND_bytes(serial_bytes, sizeof serial_bytes) == 1, "serial number");
    serial_bytes[0] &= 0x7f;  // positive
    BIGNUM* serial = BN_bin2bn(serial_bytes, sizeof serial_bytes, nullptr);
    check(serial != nullptr, "serial number");
    check(BN_to_ASN1_INTEGER(serial, X509_get_serialNumber(cert.get())) != nullptr, "serial number");
    BN_free(serial);
    X509_gmtime_adj(X509_getm_notBefore(cert.get()), -3600);
    X509_gmtime_adj(X509_getm_notAfter(cert.get()), 24 * 3600);
    check(X509_set_pubkey(cert.get(), key) == 1, "public key");
    X509_NAME* name = X509_get_subject_name(cert.get());
    check(X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8,
                                     reinterpret_cast<const unsigned char*>(common_name.c_str()), -1, -1,
                                     0) == 1,
          "subject name");
    return cert;
}

std::string to_pem(X509* cert) {
    BioPtr bio(BIO_new(BIO_s_mem()));
    check(bio && PEM_write_bio_X509(bio.get(), cert) == 1, "PEM encoding of a certificate");
    char* data = nullptr;
    const long size = BIO_get_mem_data(bio.get(), &data);
    return std::string(data, static_cast<std::size_t>(size));
}

std::string to_pem(EVP_PKEY* key) {
    BioPtr bio(BIO_new(BIO_s_mem()));
    check(bio && PEM_write_bio_PrivateKey(bio.get(), key, nullptr, nullptr, 0, nullptr, nullptr) == 1,
          "PEM encoding of a key");
    char* data = nullptr;
    const long size = BIO_get_mem_data(bio.get(), &data);
    return std::string(data, static_cast<std::size_t>(size));
}

}  // namespace

TestPki generate_test_pki(std::vector<std::string> dns_names, std::vector<std::string> ip_sans) {
    KeyPtr ca_key = make_key();
    CertPtr ca = make_cert(ca_key.get(), "alloy test CA");
    check(X509_set_issuer_name(ca.get(), X509_get_subject_name(ca.get())) == 1, "CA issuer");
    add_extension(ca.get(), ca.get(), NID_basic_constraints, "critical,CA:TRUE");
    add_extension(ca.get(), ca.get(), NID_key_usage, "critical,keyCertSign,cRLSign");
    add_extension(ca.get(), ca.get(), NID_subject_key_identifier, "hash");
    check(X509_sign(ca.get(), ca_key.get(), EVP_sha256()) > 0, "signing the CA");

    std::string common_name = !dns_names.empty() ? dns_names.front()
                              : !ip_sans.empty() ? ip_sans.front()
                                                 : std::string("alloy test server");
    KeyPtr server_key = make_key();
    CertPtr server = make_cert(server_key.get(), common_name);
    check(X509_set_issuer_name(server.get(), X509_get_subject_name(ca.get())) == 1, "server issuer");
    add_extension(server.get(), ca.get(), NID_basic_constraints, "critical,CA:FALSE");
    add_extension(server.get(), ca.get(), NID_key_usage, "critical,digitalSignature,keyEncipherment");
    add_extension(server.get(), ca.get(), NID_ext_key_usage, "serverAuth");
    add_extension(server.get(), ca.get(), NID_authority_key_identifier, "keyid:always");
    std::string sans;
    for (const auto& dns : dns_names) sans += (sans.empty() ? "" : ",") + std::string("DNS:") + dns;
    for (const auto& ip : ip_sans) sans += (sans.empty() ? "" : ",") + std::string("IP:") + ip;
    if (!sans.empty()) add_extension(server.get(), ca.get(), NID_subject_alt_name, sans);
    check(X509_sign(server.get(), ca_key.get(), EVP_sha256()) > 0, "signing the server certificate");

    return TestPki{to_pem(ca.get()), to_pem(server.get()), to_pem(server_key.get())};
}

}  // namespace alloy::mock
