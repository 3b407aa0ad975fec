DROP TABLE mobile_app_settings;
DROP TABLE mail_attachments;
