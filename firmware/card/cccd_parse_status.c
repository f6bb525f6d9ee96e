/* cccd_parse_status.c - stable codes and desk messages for cccd_parse() outcomes.
 *
 * The short codes are part of the contract (logs, the uplink and the desk
 * manual use them): never change one, only add. The messages are for the
 * reception staff and say what to do next. */
#include "card/cccd_parse.h"

struct status_text {
    const char *code;
    const char *en;
    const char *vi;
};

static const struct status_text texts[CCCD_STATUS_COUNT] = {
    [CCCD_OK] = { "ok", "Card read and checked.", "Đã đọc và kiểm tra thẻ." },
    [CCCD_NOT_CARD] = { "not-a-card",
                        "This QR code is not a citizen ID card. Show the QR code on the ID card or in VNeID's card view.",
                        "Mã QR này không phải thẻ căn cước. Hãy đưa mã QR trên thẻ hoặc trong mục thẻ của VNeID." },
    [CCCD_ERR_TOO_LONG] = { "payload-too-long", "The QR code holds far more text than an ID card. Check the card by hand.",
                            "Mã QR chứa quá nhiều dữ liệu so với thẻ căn cước. Hãy kiểm tra thẻ thủ công." },
    [CCCD_ERR_UTF8] = { "bad-encoding", "The card's text is not valid UTF-8. Check the card by hand.",
                        "Dữ liệu trên thẻ không đúng mã UTF-8. Hãy kiểm tra thẻ thủ công." },
    [CCCD_ERR_FIELD_COUNT] = { "field-count", "The card's data has the wrong number of fields. Check the card by hand.",
                               "Dữ liệu thẻ có số trường không đúng. Hãy kiểm tra thẻ thủ công." },
    [CCCD_ERR_EXTRA_FIELDS] = { "extra-fields", "The card carries data in fields that should be empty. Check the card by hand.",
                                "Thẻ có dữ liệu ở các trường lẽ ra để trống. Hãy kiểm tra thẻ thủ công." },
    [CCCD_ERR_ID_FORMAT] = { "id-format", "The ID number is not 12 digits. Check the card by hand.",
                             "Số định danh không đủ 12 chữ số. Hãy kiểm tra thẻ thủ công." },
    [CCCD_ERR_ID_PROVINCE] = { "id-province", "The ID number starts with an unknown province code. Check the card by hand.",
                               "Số định danh có mã tỉnh không hợp lệ. Hãy kiểm tra thẻ thủ công." },
    [CCCD_ERR_ID_CENTURY] = { "id-century-mismatch", "The ID number does not match the birth year's century. Check the card by hand.",
                              "Số định danh không khớp với thế kỷ của năm sinh. Hãy kiểm tra thẻ thủ công." },
    [CCCD_ERR_ID_SEX] = { "id-sex-mismatch", "The ID number does not match the sex on the card. Check the card by hand.",
                          "Số định danh không khớp với giới tính trên thẻ. Hãy kiểm tra thẻ thủ công." },
    [CCCD_ERR_ID_YEAR] = { "id-year-mismatch", "The ID number does not match the birth year. Check the card by hand.",
                           "Số định danh không khớp với năm sinh. Hãy kiểm tra thẻ thủ công." },
    [CCCD_ERR_OLD_ID] = { "old-id-format", "The old ID (CMND) number is malformed. Check the card by hand.",
                          "Số CMND cũ không đúng định dạng. Hãy kiểm tra thẻ thủ công." },
    [CCCD_ERR_NAME] = { "name-invalid", "The name on the card is empty, too long or holds invalid characters. Check the card by hand.",
                        "Họ tên trên thẻ trống, quá dài hoặc có ký tự không hợp lệ. Hãy kiểm tra thẻ thủ công." },
    [CCCD_ERR_BIRTH_DATE] = { "birth-date-invalid", "The date of birth is not a real date. Check the card by hand.",
                              "Ngày sinh không phải ngày hợp lệ. Hãy kiểm tra thẻ thủ công." },
    [CCCD_ERR_BIRTH_FUTURE] = { "birth-date-future", "The date of birth is in the future. Check the terminal's clock and the card.",
                                "Ngày sinh ở tương lai. Hãy kiểm tra đồng hồ của máy và thẻ." },
    [CCCD_ERR_SEX] = { "sex-invalid", "The sex field is neither \"Nam\" nor \"Nữ\". Check the card by hand.",
                       "Giới tính không phải \"Nam\" hoặc \"Nữ\". Hãy kiểm tra thẻ thủ công." },
    [CCCD_ERR_ADDRESS] = { "address-invalid", "The address on the card is empty or too long. Check the card by hand.",
                           "Địa chỉ trên thẻ trống hoặc quá dài. Hãy kiểm tra thẻ thủ công." },
    [CCCD_ERR_ISSUE_DATE] = { "issue-date-invalid", "The issue date is not a real date. Check the card by hand.",
                              "Ngày cấp không phải ngày hợp lệ. Hãy kiểm tra thẻ thủ công." },
    [CCCD_ERR_ISSUE_BEFORE_BIRTH] = { "issue-before-birth", "The issue date is before the date of birth. Check the card by hand.",
                                      "Ngày cấp trước ngày sinh. Hãy kiểm tra thẻ thủ công." },
    [CCCD_ERR_ISSUE_FUTURE] = { "issue-date-future", "The issue date is in the future. Check the terminal's clock and the card.",
                                "Ngày cấp ở tương lai. Hãy kiểm tra đồng hồ của máy và thẻ." },
    [CCCD_ERR_HIDDEN_CHARS] = { "hidden-characters",
                                "The card's text holds hidden characters (text-direction or invisible marks) that a real card never has: the name may differ from what it shows. Check the card by hand.",
                                "Dữ liệu thẻ chứa ký tự ẩn (ký tự đổi chiều chữ hoặc ký tự vô hình) mà thẻ thật không có: họ tên có thể khác với những gì hiển thị. Hãy kiểm tra thẻ thủ công." },
    [CCCD_ERR_STACKED_MARKS] = { "stacked-marks",
                                 "A letter in the name or address carries more accent marks than any Vietnamese letter. Check the card by hand.",
                                 "Một chữ trong họ tên hoặc địa chỉ mang nhiều dấu hơn bất kỳ chữ tiếng Việt nào. Hãy kiểm tra thẻ thủ công." },
    [CCCD_ERR_ISSUE_BEFORE_CAN_CUOC] = { "issue-before-can-cuoc-2024",
                                         "This QR code has the layout of a căn cước card (2024), but its issue date is before 1 July 2024, when that card was first issued. Check the card by hand.",
                                         "Mã QR theo mẫu thẻ căn cước (2024) nhưng ngày cấp trước ngày 01/7/2024, ngày bắt đầu cấp loại thẻ này. Hãy kiểm tra thẻ thủ công." },
    [CCCD_ERR_ISSUE_AFTER_CCCD] = { "issue-after-cccd-2021",
                                    "This QR code has the layout of a chip CCCD (2021), but its issue date is after July 2024; since 1 July 2024 new cards are căn cước cards. Check the card by hand.",
                                    "Mã QR theo mẫu căn cước công dân gắn chip (2021) nhưng ngày cấp sau tháng 7/2024; từ ngày 01/7/2024 chỉ cấp thẻ căn cước mẫu mới. Hãy kiểm tra thẻ thủ công." },
    [CCCD_ERR_ISSUE_BEFORE_CCCD] = { "issue-before-cccd-2021",
                                     "This QR code has the layout of a chip CCCD (2021), but its issue date is before 2021, when that card was first issued. Check the card by hand.",
                                     "Mã QR theo mẫu căn cước công dân gắn chip (2021) nhưng ngày cấp trước năm 2021, khi loại thẻ này bắt đầu được cấp. Hãy kiểm tra thẻ thủ công." },
    [CCCD_ERR_ISSUE_TOO_YOUNG] = { "issue-too-young",
                                   "The card was issued on the day of birth, or a chip CCCD (2021) before its holder was 14: no such card is issued. Check the card by hand.",
                                   "Thẻ được cấp ngay trong ngày sinh, hoặc thẻ căn cước công dân gắn chip (2021) được cấp khi chưa đủ 14 tuổi: không có thẻ như vậy. Hãy kiểm tra thẻ thủ công." },
};

static const struct status_text unknown = { "unknown", "Unknown result. Check the card by hand.",
                                            "Kết quả không xác định. Hãy kiểm tra thẻ thủ công." };

static const struct status_text *text_of(enum cccd_status st)
{
    if ((int)st < 0 || (int)st >= CCCD_STATUS_COUNT || !texts[st].code)
        return &unknown;
    return &texts[st];
}

const char *cccd_status_code(enum cccd_status st)
{
    return text_of(st)->code;
}

const char *cccd_status_message_en(enum cccd_status st)
{
    return text_of(st)->en;
}

const char *cccd_status_message_vi(enum cccd_status st)
{
    return text_of(st)->vi;
}
