// Fixed test keys (generated once; fixed so that every test run and every ctest process sees
// the same keys without paying for key generation) and token-building helpers.
#pragma once

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

#include "stella/gateway/auth/jose.hpp"

namespace stella::gw::auth::testing {

// RSA 2048 with the CRT members (RS*/PS* tests; 2048 is the smallest size parse_jwk takes).
inline constexpr std::string_view kRsa2048 =
    R"({"kty":"RSA","n":"nP2yWE4i_GA-kw2M6eRSviTOSYMG9w1fJjBvG-gCwZv6xBS8fOuaEyiY2ODSFKro86Re2y)"
    R"(pH_2V-iPcC5O_krTgws0UXZqDVUbeo7wEC7p4IQr_OwwP8A3zoF9hyVMXrt0_MhQUt1L4a2yIJpOSYMeaQE6m6ZO)"
    R"(1Z1is7ouRC9FP0-Zi3PXpwBthFZGDNdkUyRlMdvjVZiJzUhwW6sk0b0NOP5sIa8VqHxca97QwlLr2K400KdXCqLY)"
    R"(BoiCrsnfZ_8N_lPg60EJKg637Rq1ycaZRHcB7UI3JoSlBhQ0VSLxTqB5Sot67yP-qwPQ1JvYVAemT_d1t6oFKZnD)"
    R"(Djfp7vzw","e":"AQAB","d":"Qu8PqQK3e-70_vGaEObeOF-s7D7HK3IyDTA9TyKeejmsswk8S-6PpHd8o4tHRr)"
    R"(SP2cFNCBiA1e1KA899FmsJjqkUanqcvY75JHwvtKczvtT2JK9u0krSmhIZSoFoTaiNFX0ab-SDY98hyCg9AGbOVQ)"
    R"(g-iYOmCv3_fYa1SIAV4-F0IhJZBtf0iBl8ybvSuPRSG0Rnz9Iyj_6p-wMhPWWjqd5uFCA-Yhv8q9ITwGnP5CIb09)"
    R"(NrQ4MEFsfqEt8U3aaitQ-ymvyjSoTGgCSqRkrC2dc0T2j-Z36cgrToo2FQN9ewGLN4K2HES-4myoe_djgDCGwxWB)"
    R"(rn3ymW9DacNrOJQQ","p":"3Oi5SNTfRuaiy7JXy-TU0Wz2ghFzvJfwqskwPrAafwA0J0o7O8whX7CO_NDwyywmq)"
    R"(7vXL2hLkaXMujaKwd9IjDuGFGGhCyHClsB57IJzpmOM2MZz_PqE34uJ2_18hOVK-AGBJKLqdfy2lRUDIwBcORjCR)"
    R"(Yf-daAe3Uyma42JLl8","q":"te297PDjeLksuhLaEzTpx_8tV2rFzj9TJZp1hWKunhDBMq4F4v150EvCsDX73mY)"
    R"(tsbZILt-lCQxm4Ovv4Jm-WTAK3Lp_9nMglMvomX4bB3ZQ4_ccC7nb2g24GxpEH7dBXH-_15MEqGgx5o-sY6D3B8f)"
    R"(Qxpy9WOd9B3nowhqb1JE","dp":"lVdbUypd21-19MEXa4bCfOYN7DaCKKALGloynF6POwZXO6yKSM2iTj9dGvrh)"
    R"(nmi1p-mv-qOmWstckRKoUZJySCNBbGvn5E-pbiKnCkXSi0zHfhEDfqWZyEpcI3XFhU5BlVHnDW551NPIVxbCbRok)"
    R"(PpFHXJwoYTqjQvY7l4Aymj8","dq":"PIynzZhO3Pske7mSgxn1RO8U9CdBNme1EKrbuk0huNHyux9YLjgWttDAN)"
    R"(02ASoDPbHoyhAdDMkPCadGcwK_qvlxTASvBMxEWIu_KtmtWK6GhQn4YA38UQPqX781KJxQi2Npbyy_POQ2UrhvbU)"
    R"(D1eemRyg-fezRwebMKSSSf5_UE","qi":"w6tP6VokAxsB7JmqUzashqJE1jJseMTEh9IrocOjFG1RSsNvvQqwdn)"
    R"(Yz964tVbC1DZcgXEV8hYjqAZ6rQ4TWpvzy0Z-OeQ7IIlSlZdJVfPhXNUxu-X6vqa0EYZhAPzNOdA-4XE69kZynRw)"
    R"(yaiAuyKSr2FWK4nn_NEHbK5enaobA"})";

// RSA 1024: refused as weak_key.
inline constexpr std::string_view kRsa1024 =
    R"({"kty":"RSA","n":"pBsIjCbHBhhykRMyK0nC-YRry7Lnzx6Ini8vwgi61pRRZHQwxdK7b9PTNzco3Lakfh4GAw)"
    R"(tTPXh-MifVfnBQwA9UAbwrqHTcmieqChvCotJrcTyaO4VNrYsLOjmtq5z2aXRRZw_Ox5oIZqR_aJpk3EePlcGqC5)"
    R"(a8cumLZyO5dQE","e":"AQAB","d":"d9UFuNHYIytW_Xj2-YUzSuDXljdd7nBtcpUiWp3lUSudA62Ur9_h3xbe9)"
    R"(ULiI8l69F0YJsDuV8TU4esUiu-ZBnq6K2XpYXSU7d0DPFcWB4KO7g-hc6LDFvFaV4NEiosF0zaTD2K6-xbmOf9tK)"
    R"(Zs8I1NFXWiFURBJsWWZPJh8VQE","p":"0kgWwo7dVy-SoCtdzqRpdgBAmAbkkJoiGej6htW8IoWCqZk-4cS2XdH)"
    R"(qrtvMUxUNE48wO0xMLwNDMnAL_lu0dQ","q":"x8jeOMCdw5nYGhrTMISu1I2CIeHO7j8BMK103OOsStnYLNuPMw)"
    R"(ifu5BZWdOp7ZUlI4WSNtaine4Scn4Hmc583Q","dp":"N3Xl8tiFTkpwzKfDbQ319rZoUvB2diEA336QHOHgZeZ6)"
    R"(qMqPSDJ-us3zrLyx7jO-KCt62BjuevPMVFAzCZocRQ","dq":"TtqGc2n7Gvf-5pbN4mmMQ9KymULyFPEDPD5KUO)"
    R"(D_4O9ItrPWOnNd8H8R9TVo7aAfb3zJ8CEZQDJ2T4BU6a0pdQ","qi":"DhnFNERDeCFxBZnDPM5ehTntXbkDhiBB)"
    R"(zASb8eInMK7GQS6RegoN50NTVoboWoc_7fHx3tGEAsnq31dCVGC3nQ"})";

inline constexpr std::string_view kP256 =
    R"({"kty":"EC","crv":"P-256","x":"4nN7bK0F8oIyuYP9CHvisIyDIaS-loHiNqbm_9ie_18","y":"yRDrLYW)"
    R"(VPuvyTakUAZNTYQCCJ3kjWEk5xdZWQwqoWzg","d":"v4IivQ-gdHnmGHZ3jHGG3oVzSmpCeo2nbNLDzJLDda0"})";

// A second P-256 key (jkt mismatch, wrong-key tests).
inline constexpr std::string_view kP256b =
    R"({"kty":"EC","crv":"P-256","x":"gkmqY8igHfoErQOq7rCij7WKymtSoovd0r_9zsuBu0A","y":"g-a5oT4)"
    R"(uI40NWuo4XjCwxGqxTzOt6jcVmPvOsrvO1zI","d":"Muupa7myCR6Bwjb1jroF1u-RfuEH4xwNbaps_OYmhM4"})";

inline constexpr std::string_view kP384 =
    R"({"kty":"EC","crv":"P-384","x":"b3fO7Vn2xozlBrqwAt7CATdTjHFfqrnArteF2m6YOD_uMuIgWAfpVXvT7)"
    R"(x929ntm","y":"lvQ8Y5ZAKrt7TZFYwHGJiqqb7tGvPQirXfJk6s_wDCwjVtwXxXpmlJri6KU0enUX","d":"kmR)"
    R"(4mMX3FOHhb98v_SqkDy6iJdcXiCC6islxtdqiuxpbBtOBGteumB-zBYaq-C6B"})";

inline constexpr std::string_view kP521 =
    R"({"kty":"EC","crv":"P-521","x":"AOtDjO1q-vkIgalaeVJORGZHfyNk6FTW5UuGv5pyC7CpNiSW2cr7rIHCK)"
    R"(JUSVcxC1vv65KXgT3VM1TnS0XV0zmfJ","y":"AYcHSXy5sXYAFpdyOB4K9XXLomWrHpevab2PVaa5TPH8NiESCA)"
    R"(XmlVTLLpRFdwjlcfLysZg5nMNe4XfwkY0yUMDI","d":"Abtp88F2-WG21Km54mM8scNwSCTeKOAmzRnRkjsqQyG)"
    R"(pdxdDXvh4oKv1-Uv2WpbJ-zDJXeOvki-GKXflsMqe931a"})";

// RFC 8037 §A.1: the Ed25519 example key (its thumbprint is in §A.3, its signature in §A.4).
inline constexpr std::string_view kEd25519 =
    R"({"kty":"OKP","crv":"Ed25519","d":"nWGxne_9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A",)"
    R"("x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"})";

// RFC 7638 §3.1: the example RSA key and its thumbprint.
inline constexpr std::string_view kRfc7638Key =
    R"({"kty":"RSA","n":"0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPF)"
    R"(FxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4Q)"
    R"(yQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qN)"
    R"(Lyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnq)"
    R"(DKgw","e":"AQAB","alg":"RS256","kid":"2011-04-29"})";
inline constexpr std::string_view kRfc7638Thumbprint =
    "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs";

inline nlohmann::json json_of(std::string_view text) {
  return nlohmann::json::parse(text);
}

/// A private key from one of the constants above (fails the test when it does not parse).
inline Jwk private_key(std::string_view text) {
  JwkResult r = parse_jwk(json_of(text), /*allow_private=*/true);
  EXPECT_TRUE(r.jwk.has_value()) << jwk_error_name(r.error);
  return r.jwk ? *r.jwk : Jwk{};
}

/// The public half of a private key, as a verifier would load it from a JWKS.
inline Jwk public_key(const Jwk& private_jwk, std::string_view kid = {}) {
  nlohmann::json j = private_jwk.public_json;
  if (!kid.empty()) j["kid"] = kid;
  JwkResult r = parse_jwk(j);
  EXPECT_TRUE(r.jwk.has_value()) << jwk_error_name(r.error);
  return r.jwk ? *r.jwk : Jwk{};
}

inline std::string b64(std::string_view bytes) {
  return base64url_encode(bytes);
}

/// "b64(header).b64(payload).b64(signature)" from exact texts: for tokens sign_compact would not
/// write (duplicate members, alg none, a signature made elsewhere).
inline std::string compact(std::string_view header, std::string_view payload,
                           std::string_view signature) {
  return b64(header) + "." + b64(payload) + "." + b64(signature);
}

/// Signs exact header and payload texts with `key`.
inline std::string signed_compact(std::string_view header, std::string_view payload, Alg alg,
                                  const Jwk& key) {
  const std::string input = b64(header) + "." + b64(payload);
  const auto sig = sign(alg, key, input);
  EXPECT_TRUE(sig.has_value());
  return input + "." + b64(sig.value_or(""));
}

}  // namespace stella::gw::auth::testing
