// A throw-away public-key infrastructure for loopback TLS tests: one CA and one server certificate.
#pragma once

#include <string>
#include <vector>

namespace alloy::mock {

/// PEM texts of a freshly generated CA certificate and a server certificate (with its private key)
/// signed by that CA.
struct TestPki {
    std::string ca_cert_pem;
    std::string server_cert_pem;
    std::string server_key_pem;
};

/// Generates a CA and a server certificate valid for one day, with the given DNS and IP subject
/// alternative names (the first DNS name, or else the first IP, is also the subject CN). Uses P-256
/// keys so it takes milliseconds. Throws std::runtime_error when OpenSSL fails.
TestPki generate_test_pki(std::vector<std::string> dns_names = {"localhost"},
                          std::vector<std::string> ip_sans = {"127.0.0.1"});

}  // namespace alloy::mock
