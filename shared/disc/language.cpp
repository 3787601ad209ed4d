#include "shared/disc/language.hpp"

#include <map>

namespace reelscale::disc {

std::string iso639_2(const std::string& code) {
  static const std::map<std::string, std::string> table = {
      {"aa", "aar"}, {"af", "afr"}, {"am", "amh"}, {"ar", "ara"}, {"as", "asm"}, {"az", "aze"}, {"be", "bel"},
      {"bg", "bul"}, {"bn", "ben"}, {"bo", "tib"}, {"br", "bre"}, {"bs", "bos"}, {"ca", "cat"}, {"co", "cos"},
      {"cs", "cze"}, {"cy", "wel"}, {"da", "dan"}, {"de", "ger"}, {"el", "gre"}, {"en", "eng"}, {"eo", "epo"},
      {"es", "spa"}, {"et", "est"}, {"eu", "baq"}, {"fa", "per"}, {"fi", "fin"}, {"fj", "fij"}, {"fo", "fao"},
      {"fr", "fre"}, {"fy", "fry"}, {"ga", "gle"}, {"gd", "gla"}, {"gl", "glg"}, {"gn", "grn"}, {"gu", "guj"},
      {"ha", "hau"}, {"he", "heb"}, {"hi", "hin"}, {"hr", "hrv"}, {"hu", "hun"}, {"hy", "arm"}, {"ia", "ina"},
      {"id", "ind"}, {"is", "ice"}, {"it", "ita"}, {"iu", "iku"}, {"iw", "heb"}, {"ja", "jpn"}, {"ji", "yid"},
      {"jv", "jav"}, {"ka", "geo"}, {"kk", "kaz"}, {"kl", "kal"}, {"km", "khm"}, {"kn", "kan"}, {"ko", "kor"},
      {"ks", "kas"}, {"ku", "kur"}, {"ky", "kir"}, {"la", "lat"}, {"lb", "ltz"}, {"ln", "lin"}, {"lo", "lao"},
      {"lt", "lit"}, {"lv", "lav"}, {"mg", "mlg"}, {"mi", "mao"}, {"mk", "mac"}, {"ml", "mal"}, {"mn", "mon"},
      {"mr", "mar"}, {"ms", "may"}, {"mt", "mlt"}, {"my", "bur"}, {"nb", "nob"}, {"ne", "nep"}, {"nl", "dut"},
      {"nn", "nno"}, {"no", "nor"}, {"oc", "oci"}, {"or", "ori"}, {"pa", "pan"}, {"pl", "pol"}, {"ps", "pus"},
      {"pt", "por"}, {"qu", "que"}, {"rm", "roh"}, {"ro", "rum"}, {"ru", "rus"}, {"rw", "kin"}, {"sa", "san"},
      {"sd", "snd"}, {"si", "sin"}, {"sk", "slo"}, {"sl", "slv"}, {"sm", "smo"}, {"so", "som"}, {"sq", "alb"},
      {"sr", "srp"}, {"sv", "swe"}, {"sw", "swa"}, {"ta", "tam"}, {"te", "tel"}, {"tg", "tgk"}, {"th", "tha"},
      {"tk", "tuk"}, {"tl", "tgl"}, {"tr", "tur"}, {"tt", "tat"}, {"ug", "uig"}, {"uk", "ukr"}, {"ur", "urd"},
      {"uz", "uzb"}, {"vi", "vie"}, {"wo", "wol"}, {"xh", "xho"}, {"yi", "yid"}, {"yo", "yor"}, {"zh", "chi"},
      {"zu", "zul"}};
  const auto it = table.find(code);
  return it == table.end() ? code : it->second;
}

}  // namespace reelscale::disc
