DJANGO_SETTINGS_MODULE=proj.settings
CELERY_BROKER_URL=amqp://guest:guest@rabbitmq:5672//
SECRET_KEY='django-insecure-$ecret'
